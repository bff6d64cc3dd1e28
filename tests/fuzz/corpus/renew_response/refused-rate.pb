
,
echo"issuance rate exceeded(ใ๊บุ0๋บุ

hello"revoked