
tokenNode 1