
*sha5122zz