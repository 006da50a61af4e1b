#!/bin/sh
# Builds targets/lib-go-jwt/bin/byoid-lib-go-jwt offline, in GOPATH mode, against Debian's
# packaged golang-jwt v4.4.3 and go-jose v2.6.0 (no module proxy needed).
# The contract's glue, shared with targets/independent-go, is targets/go-glue (package
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
go build -trimpath -o "$here/bin/byoid-lib-go-jwt" .
echo "built $here/bin/byoid-lib-go-jwt ($(go version | cut -d' ' -f3); $(dpkg-query -W -f='golang-jwt ${Version}, ' golang-github-golang-jwt-jwt-dev 2>/dev/null)$(dpkg-query -W -f='go-jose ${Version}' golang-gopkg-square-go-jose.v2-dev 2>/dev/null))"
