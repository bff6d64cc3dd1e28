
echostopped