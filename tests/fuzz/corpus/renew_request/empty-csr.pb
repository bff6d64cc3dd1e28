

echo