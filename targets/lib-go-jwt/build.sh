#!/bin/sh
# Builds targets/lib-go-jwt/bin/byoid-lib-go-jwt offline, in GOPATH mode, against Debian's
# packaged golang-jwt v4.4.3 and go-jose v2.6.0 (no module proxy needed).
# The contract's glue, shared with targets/independent-go, is targets/go-glue: .gopath links it
# as the package byoid.local/glue (and its test helpers as byoid.local/glue/gluetest).
# `./build.sh test` runs go vet and the unit tests (this program's and the glue's) instead.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
debs="golang-go golang-github-golang-jwt-jwt-dev golang-gopkg-square-go-jose.v2-dev"

if ! command -v go >/dev/null 2>&1; then
	echo "build.sh: Go is not installed; run: apt-get install -y $debs" >&2
	exit 1
fi
for dir in /usr/share/gocode/src/github.com/golang-jwt/jwt \
           /usr/share/gocode/src/gopkg.in/square/go-jose.v2 \
           /usr/share/gocode/src/golang.org/x/crypto; do
	if [ ! -d "$dir" ]; then
		echo "build.sh: $dir is missing; run: apt-get install -y $debs" >&2
		exit 1
	fi
done

mkdir -p "$here/bin" "$here/.gopath/src/byoid.local"
ln -sfn ../../../../go-glue "$here/.gopath/src/byoid.local/glue"
cd "$here"
export GO111MODULE=off GOFLAGS= GOPATH="$here/.gopath:/usr/share/gocode"
if [ "${1:-}" = test ]; then
	go vet . byoid.local/glue byoid.local/glue/gluetest && go test -count=1 . byoid.local/glue
	exit
fi
go build -trimpath -o "$here/bin/byoid-lib-go-jwt" .
echo "built $here/bin/byoid-lib-go-jwt ($(go version | cut -d' ' -f3); $(dpkg-query -W -f='golang-jwt ${Version}, ' golang-github-golang-jwt-jwt-dev 2>/dev/null)$(dpkg-query -W -f='go-jose ${Version}' golang-gopkg-square-go-jose.v2-dev 2>/dev/null))"
