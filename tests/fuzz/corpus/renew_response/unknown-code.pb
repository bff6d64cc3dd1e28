
	
echoç