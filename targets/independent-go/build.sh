#!/bin/sh
# Builds targets/independent-go/bin/byoid-independent-go offline, in GOPATH mode, against
# Debian's packaged golang-jwt v4 and go-jose v2 (no module proxy needed).
# The contract's glue, shared with targets/lib-go-jwt, is targets/go-glue (package
# byoid.local/glue); go-glue/gopath.sh checks the packages and links it into .gopath.
# `./build.sh test` runs go vet and the unit tests (this program's and the glue's) instead.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../go-glue/gopath.sh"
cd "$here"
if [ "${1:-}" = test ]; then
	go vet . byoid.local/glue byoid.local/glue/gluetest && go test -count=1 . byoid.local/glue
	exit
fi
go build -trimpath -o "$here/bin/byoid-independent-go" .
echo "built $here/bin/byoid-independent-go ($(go version | cut -d' ' -f3))"
