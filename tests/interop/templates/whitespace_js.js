 


	 qwer     