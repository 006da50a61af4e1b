# Sourced by targets/independent-go/build.sh and targets/lib-go-jwt/build.sh, with $here the
# program's folder: checks that Go and Debian's packages are installed (printing the apt-get
# line when one is missing), links this folder into $here/.gopath as the package
# byoid.local/glue, and exports the offline GOPATH-mode environment.
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
export GO111MODULE=off GOFLAGS= GOPATH="$here/.gopath:/usr/share/gocode"
