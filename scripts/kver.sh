#!/bin/sh
# Print the kernel release the module is built for and the tests boot:
# KVER if set, else the newest Debian amd64 headers installed.
if [ -n "${KVER:-}" ]; then
	echo "$KVER"
	exit 0
fi
ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sed 's|.*/linux-headers-||' |
	sort -V | tail -n 1
