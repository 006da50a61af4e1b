#!/bin/sh
# Installs what targets/lib-ruby-jwt needs from Debian's archive when a package is missing:
# ruby (3.1 on Debian 12), ruby-jwt (2.5.0) and ruby-webrick (1.8.1). Then checks that Ruby
# activates exactly the pinned gem versions (server.rb asks for them too). Idempotent; apt-get
# needs root, as in scripts/external-suites.sh.
set -eu
debs="ruby ruby-jwt ruby-webrick"
missing=""
for p in $debs; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "setup.sh: apt-get not found, and these Debian packages are missing:$missing." >&2
        echo "setup.sh: this adapter is pinned to Debian 12's ruby-jwt 2.5.0 and ruby-webrick 1.8.1;" >&2
        echo "setup.sh: elsewhere, install Ruby 3.1 or later and 'gem install jwt:2.5.0 webrick:1.8.1'." >&2
        exit 1
    fi
    echo "setup.sh: installing$missing with apt-get" >&2
    apt-get update -qq
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null || {
        echo "setup.sh: 'apt-get install$missing' failed (it needs root)" >&2
        exit 1
    }
fi
if ! command -v ruby >/dev/null 2>&1; then
    echo "setup.sh: ruby is not on PATH" >&2
    exit 1
fi
ruby -e '
  pins = { "jwt" => "2.5.0", "webrick" => "1.8.1" }
  begin
    pins.each { |name, version| gem name, "= #{version}" }
  rescue Gem::LoadError => e
    abort("setup.sh: #{e.message}")
  end
  require "jwt"
  require "webrick"
  puts "lib-ruby-jwt: ruby-jwt #{JWT::VERSION::STRING}, WEBrick #{WEBrick::VERSION}, Ruby #{RUBY_VERSION}"
'
