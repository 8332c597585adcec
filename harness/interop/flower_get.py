"""GET a Flower API path and print the JSON body (for oauthq's Flower test): flower_get.py URL.

Exits 1 with the error on stderr when Flower does not answer 200 within 30 s.
"""
import sys
import urllib.request

try:
    with urllib.request.urlopen(sys.argv[1], timeout=30) as response:
        sys.stdout.write(response.read().decode())
except Exception as error:  # noqa: BLE001 - any failure is reported as one line
    sys.stderr.write(f"{type(error).__name__}: {error}\n")
    sys.exit(1)
