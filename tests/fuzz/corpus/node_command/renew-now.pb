
echo
hello