
echorevoked