
echoÿÿÿÿ