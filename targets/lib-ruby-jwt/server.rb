# frozen_string_literal: true

# byoid target adapter: bearer-token validation with ruby-jwt 2.5.0 (Debian's ruby-jwt), as its
# README shows for a JWKS: JWT.decode(token, nil, true, { algorithms:, jwks: loader, iss:,
# verify_iss: true, aud:, verify_aud: true, ... }) with the README's loader lambda. On WEBrick.
#
# Speaks the target contract byoid-target/2 (docs/target-contract.md): reads the manifest named
# by BYOID_MANIFEST, listens on 127.0.0.1:BYOID_PORT, serves GET /healthz, /api/whoami and
# /api/admin.
#
# Everything about the token itself is ruby-jwt's (see validate). The rest is glue the library
# has no part in: tenant resolution, the RFC 6750 answers, discovery, the HTTP fetch the loader
# asks for, the client allow-list, claim mappings and the admin role. The glue does not check
# the token; what ruby-jwt lets through is the finding. See README.md.
#
# BYOID_TARGET_DEBUG=1 logs each rejection's reason to stderr; responses never carry it.

# The pins (README "Libraries and versions"): activate exactly these gem versions, so a newer
# jwt or webrick installed with `gem install` is not picked up instead of Debian's.
PINS = { 'jwt' => '2.5.0', 'webrick' => '1.8.1' }.freeze
begin
  PINS.each { |name, version| gem name, "= #{version}" }
rescue Gem::LoadError => e
  abort("lib-ruby-jwt: #{e.message}; run targets/lib-ruby-jwt/setup.sh (Debian's ruby-jwt 2.5.0 and ruby-webrick 1.8.1)")
end

require 'json'
require 'net/http'
require 'openssl'
require 'timeout'
require 'uri'
require 'webrick'
require 'jwt'

CONTRACTS = %w[byoid-target/1 byoid-target/2].freeze
V1_CLIENT_ID_CLAIMS = %w[client_id azp cid appid].freeze # contract 2.2, version 1 default
ROUTES = %w[/api/whoami /api/admin].freeze
# The README: "It is strongly recommended that you hard code the algorithm". Every asymmetric
# algorithm its "Algorithms and Usage" section lists for keys a JWK can carry: JWT::JWK imports
# RSA, EC and oct keys only, so ED25519 is out; ES256K (secp256k1) is no algorithm of the contract.
ALGORITHMS = %w[RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512].freeze
# The README's loader example: an unknown kid invalidates the cached set at most every 5 minutes.
KID_NOT_FOUND_GRACE = 300
# One IdP fetch (discovery or JWKS). A request needs at most one of each (the grace above keeps
# the kid_not_found reload from fetching right after a fetch), so it answers within 5 s (section 6).
FETCH_TIMEOUT = 2.0
MAX_DOCUMENT_BYTES = 1 << 20
MAX_BODY_BYTES = 64 << 10
DEBUG = ENV['BYOID_TARGET_DEBUG'] == '1'

def log(message)
  $stderr.puts("lib-ruby-jwt: #{message}")
  $stderr.flush
end

def monotonic
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

# A request answered with an RFC 6750 error; the message only goes to the debug log.
class Reject < StandardError
  attr_reader :status, :error

  def initialize(status, error, reason)
    super(reason)
    @status = status
    @error = error
  end
end

def invalid_token(reason) = Reject.new(401, 'invalid_token', reason)
def invalid_request(reason) = Reject.new(400, 'invalid_request', reason)

# A failed discovery or JWKS fetch (network, status, size, JSON): the token is rejected.
class FetchError < StandardError; end

def strings(value)
  value.is_a?(Array) ? value.select { |v| v.is_a?(String) } : []
end

# --- manifest ------------------------------------------------------------------------------

class Config
  attr_reader :source_kind, :source_header, :path_prefix, :clock_skew, :cache_seconds,
              :require_https, :ca_bundle, :tenants, :tenants_lower

  def initialize(manifest)
    raise ArgumentError, 'the manifest is not a JSON object' unless manifest.is_a?(Hash)

    contract = manifest['contract']
    unless CONTRACTS.include?(contract)
      raise ArgumentError, "unsupported contract #{contract.inspect} (this target implements #{CONTRACTS.join(' and ')})"
    end

    source = manifest['tenant_source'].is_a?(Hash) ? manifest['tenant_source'] : {}
    @source_kind = source['kind'] || 'header'
    raise ArgumentError, "unsupported tenant_source kind #{@source_kind.inspect}" unless %w[header path subdomain].include?(@source_kind)

    @source_header = source['header'].is_a?(String) && !source['header'].empty? ? source['header'] : 'X-Tenant-Slug'
    @path_prefix = source['prefix'].is_a?(String) ? source['prefix'].sub(%r{/+\z}, '') : ''
    @clock_skew = number(manifest['clock_skew_seconds'], 60)
    @cache_seconds = number(manifest['jwks_cache_seconds'], 300)
    @require_https = manifest['require_https_metadata'] == true
    @ca_bundle = manifest['ca_bundle'].is_a?(String) && !manifest['ca_bundle'].empty? ? manifest['ca_bundle'] : nil
    raise ArgumentError, "ca_bundle #{@ca_bundle} is not readable" if @ca_bundle && !File.readable?(@ca_bundle)

    @tenants = {}
    Array(manifest['tenants']).each do |raw|
      tenant = Tenant.new(raw, self)
      raise ArgumentError, "duplicate tenant slug #{tenant.slug.inspect}" if @tenants.key?(tenant.slug)

      @tenants[tenant.slug] = tenant
    end
    @tenants_lower = @tenants.transform_keys(&:downcase)
  end

  private

  def number(value, fallback)
    value.is_a?(Numeric) && value >= 0 ? value : fallback
  end
end

class Tenant
  attr_reader :slug, :enabled, :metadata_address, :valid_issuers, :valid_audiences,
              :allowed_client_ids, :client_id_claims, :claim_mappings, :agree_header, :idp

  def initialize(raw, config)
    raise ArgumentError, 'tenant is not an object' unless raw.is_a?(Hash)

    @slug = raw['slug']
    raise ArgumentError, 'tenant without a slug' unless @slug.is_a?(String) && !@slug.empty?

    @enabled = raw.fetch('enabled', true) != false
    @metadata_address = raw['metadata_address']
    # null: the discovery document's issuer; a list (even empty) replaces it (2.2).
    @valid_issuers = raw['valid_issuers'].nil? ? nil : strings(raw['valid_issuers'])
    @valid_audiences = strings(raw['valid_audiences'])
    @allowed_client_ids = strings(raw['allowed_client_ids'])
    @client_id_claims = raw['client_id_claims'].nil? ? V1_CLIENT_ID_CLAIMS : strings(raw['client_id_claims'])
    @claim_mappings = (raw['claim_mappings'].is_a?(Hash) ? raw['claim_mappings'] : {}).select { |_, v| v.is_a?(String) }
    agree = raw['agree_header']
    @agree_header = agree.is_a?(String) && !agree.empty? ? agree.downcase : nil
    @idp = Idp.new(self, config)
  end
end

# --- fetching (glue: ruby-jwt fetches nothing) -----------------------------------------------

# GET a JSON document: at most FETCH_TIMEOUT in all, MAX_DOCUMENT_BYTES, no redirect, no proxy,
# trusting ca_bundle for https.
def fetch_json(url, config)
  uri = URI.parse(url)
  raise FetchError, 'not an http(s) URL' unless uri.is_a?(URI::HTTP) && uri.host

  body = +''
  Timeout.timeout(FETCH_TIMEOUT, FetchError, 'timed out') do
    http = Net::HTTP.new(uri.host, uri.port, nil) # nil: never an environment proxy
    http.open_timeout = http.read_timeout = http.ssl_timeout = FETCH_TIMEOUT
    if uri.scheme == 'https'
      http.use_ssl = true
      http.verify_mode = OpenSSL::SSL::VERIFY_PEER
      http.ca_file = config.ca_bundle if config.ca_bundle
    end
    http.start do |connection|
      connection.request(Net::HTTP::Get.new(uri.request_uri, 'Accept' => 'application/json')) do |response|
        raise FetchError, "status #{response.code}" unless response.code == '200'

        response.read_body do |chunk|
          body << chunk
          raise FetchError, 'document too large' if body.bytesize > MAX_DOCUMENT_BYTES
        end
      end
    end
  end
  JSON.parse(body)
rescue FetchError
  raise
rescue StandardError => e # network, TLS, JSON: fail closed
  raise FetchError, "#{e.class}: #{e.message}"
end

# Waits for lock at most FETCH_TIMEOUT (Mutex has no timed lock), so requests queued behind a
# hanging IdP still answer in time.
def with_lock(lock, what)
  deadline = monotonic + FETCH_TIMEOUT
  until lock.try_lock
    raise FetchError, "#{what} busy" if monotonic > deadline

    sleep 0.005
  end
  begin
    yield
  ensure
    lock.unlock
  end
end

# The issuers a metadata address implies (OIDC Discovery 4.3, RFC 8414 section 3).
def implied_issuers(address)
  out = []
  %w[/.well-known/openid-configuration /.well-known/oauth-authorization-server].each do |suffix|
    out << address.delete_suffix(suffix) if address.end_with?(suffix)
  end
  uri = URI.parse(address)
  marker = '/.well-known/oauth-authorization-server/'
  if uri.path.start_with?(marker)
    authority = uri.port == uri.default_port ? uri.host : "#{uri.host}:#{uri.port}"
    out << "#{uri.scheme}://#{authority}/#{uri.path.delete_prefix(marker)}"
  end
  out
rescue URI::Error
  out
end

# One tenant's key set, loaded by the README's loader (the "JSON Web Key (JWK)" section).
class KeySet
  attr_reader :jwks_uri

  def initialize(jwks_uri, config)
    @jwks_uri = jwks_uri
    @config = config
    @lock = Mutex.new
    @cached_keys = nil
    @cache_last_update = nil
    @fetched_at = nil
  end

  # The README's jwk_loader, with the fetch where it writes `{ keys: [jwk.export] }`. ruby-jwt
  # calls it for the first key lookup and again, with kid_not_found: true and invalidate: true,
  # when the token's kid is not in the set it returned.
  def loader
    lambda do |options|
      with_lock(@lock, 'JWKS') do
        # Glue, not in the README's example: the manifest's trust window (contract 5.6), so a
        # key that left the JWKS is not trusted after jwks_cache_seconds.
        @cached_keys = nil if @cached_keys && monotonic - @fetched_at >= @config.cache_seconds
        # From here on, the README's loader as written.
        if options[:kid_not_found] && @cache_last_update < Time.now.to_i - KID_NOT_FOUND_GRACE
          log("Invalidating JWK cache. #{options[:kid]} not found from previous cache") if DEBUG
          @cached_keys = nil
        end
        @cached_keys ||= begin
          @cache_last_update = Time.now.to_i
          keys = fetch_json(@jwks_uri, @config)
          @fetched_at = monotonic
          keys
        end
      end
    end
  end
end

# One tenant's discovery document, trusted for jwks_cache_seconds; failures are not cached.
class Idp
  def initialize(tenant, config)
    @tenant = tenant
    @config = config
    @lock = Mutex.new
    @fetched_at = nil
    @issuer = nil
    @key_set = nil
  end

  # [accepted issuer(s), KeySet]
  def current
    with_lock(@lock, 'discovery') do
      if @fetched_at.nil? || monotonic - @fetched_at >= @config.cache_seconds
        load
        @fetched_at = monotonic
      end
      [@issuer, @key_set]
    end
  rescue FetchError => e
    raise invalid_token("discovery: #{e.message}")
  end

  private

  def allowed?(url)
    scheme = url.is_a?(String) ? (URI.parse(url).scheme || '').downcase : ''
    scheme == 'https' || (scheme == 'http' && !@config.require_https)
  rescue URI::Error
    false
  end

  def load
    address = @tenant.metadata_address
    raise invalid_token('metadata_address refused (scheme)') unless allowed?(address)

    document = fetch_json(address, @config)
    raise invalid_token('discovery document is not an object') unless document.is_a?(Hash)

    issuer = document['issuer']
    jwks_uri = document['jwks_uri']
    raise invalid_token('discovery document has no issuer') unless issuer.is_a?(String) && !issuer.empty?
    raise invalid_token('jwks_uri missing or refused (scheme)') unless jwks_uri.is_a?(String) && allowed?(jwks_uri)

    # Contract 2.2 / 5.3: with no valid_issuers, the document's issuer must be the one its
    # address implies (a trailing slash on the issuer tolerated).
    if @tenant.valid_issuers.nil? && (implied_issuers(address) & [issuer, issuer.delete_suffix('/')]).empty?
      raise invalid_token('discovery issuer does not match its address')
    end

    @key_set = KeySet.new(jwks_uri, @config) if @key_set.nil? || @key_set.jwks_uri != jwks_uri
    @issuer = @tenant.valid_issuers.nil? ? issuer : @tenant.valid_issuers
  end
end

# --- the token: ruby-jwt only ----------------------------------------------------------------

def validate(token, tenant, config)
  issuer, key_set = tenant.idp.current
  begin
    payload, _header = JWT.decode(token, nil, true, {
                                    algorithms: ALGORITHMS,
                                    jwks: key_set.loader,
                                    iss: issuer,
                                    verify_iss: true,
                                    aud: tenant.valid_audiences,
                                    verify_aud: true,
                                    exp_leeway: config.clock_skew,
                                    nbf_leeway: config.clock_skew,
                                    required_claims: ['exp']
                                  })
  rescue JWT::DecodeError => e # JWT::JWKError and every other JWT error (README, "JSON Web Key")
    raise invalid_token("ruby-jwt: #{e.class}: #{e.message}")
  rescue FetchError => e # the fetch the loader asked for
    raise invalid_token("JWKS: #{e.message}")
  end
  # ruby-jwt returns whatever JSON the payload held; the claims code below wants an object.
  raise invalid_token('payload is not a JSON object') unless payload.is_a?(Hash)

  payload
end

# --- claims after verification (glue) --------------------------------------------------------

def client_id_allowed?(claims, tenant)
  return true if tenant.allowed_client_ids.empty?

  name = tenant.client_id_claims.find { |c| claims.key?(c) } # the first claim carried decides (2.2)
  return false unless name

  claims[name].is_a?(String) && tenant.allowed_client_ids.include?(claims[name])
end

# [value] unless value is already an array (Kernel#Array would split a Hash into pairs).
def as_list(value)
  value.is_a?(Array) ? value : [value]
end

def apply_claim_mappings(claims, mappings)
  out = claims.dup
  mappings.each do |source, target|
    next if source == target || !claims.key?(source)

    value = claims[source]
    if !out.key?(target)
      out[target] = value.is_a?(Array) ? value.dup : value
    else # contract 5.7: arrays merge
      merged = []
      (as_list(out[target]) + as_list(value)).each { |item| merged << item unless merged.include?(item) }
      out[target] = merged
    end
  end
  out
end

def admin?(claims)
  roles = claims['roles']
  roles == 'admin' || (roles.is_a?(Array) && roles.include?('admin'))
end

# --- HTTP (glue) -----------------------------------------------------------------------------

BEARER = /\A([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:[ \t]+(.*))?\z/m.freeze

class Handler < WEBrick::HTTPServlet::AbstractServlet
  def initialize(server, config)
    super(server)
    @config = config
  end

  def do_GET(req, res) # rubocop:disable Naming/MethodName
    handle(req, res)
  rescue Reject => e
    reject(res, e)
  rescue StandardError => e # fail closed: never a 5xx because of a token (section 4)
    log("unexpected #{e.class}: #{e.message}")
    reject(res, invalid_token('unexpected error'))
  end

  def do_POST(req, res) # rubocop:disable Naming/MethodName
    res.keep_alive = false # the body is not read
    send_json(res, 405, { error: 'method_not_allowed' })
    res['Allow'] = 'GET'
  end

  private

  def send_json(res, status, body, challenge = nil)
    res.status = status
    res['Content-Type'] = 'application/json'
    res['Cache-Control'] = 'no-store'
    res['WWW-Authenticate'] = challenge if challenge
    res.body = JSON.generate(body)
  end

  def reject(res, rejection)
    log("#{rejection.status} #{rejection.error}: #{rejection.message}") if DEBUG
    send_json(res, rejection.status, { error: rejection.error }, %(Bearer error="#{rejection.error}"))
  end

  def values(req, name)
    req.header[name.downcase] || []
  end

  # [tenant slug or nil, route or nil], from the configured source only (3.1).
  def tenant_and_route(req, path)
    case @config.source_kind
    when 'path'
      match = %r{\A#{Regexp.escape(@config.path_prefix)}/([^/]+)(/api/(?:whoami|admin))\z}.match(path)
      return [URI.decode_www_form_component(match[1]), match[2]] if match

      [nil, ROUTES.find { |r| path.end_with?(r) }]
    when 'header'
      slugs = values(req, @config.source_header)
      [slugs.length == 1 ? slugs[0] : nil, ROUTES.include?(path) ? path : nil]
    else
      route = ROUTES.include?(path) ? path : nil
      hosts = values(req, 'host')
      host = hosts.length == 1 ? hosts[0].strip : ''
      labels = host.sub(/:\d*\z/, '').split('.', -1)
      return [nil, route] if host.start_with?('[') || labels.length < 2 || labels[0].empty?

      tenant = @config.tenants_lower[labels[0].downcase]
      [tenant ? tenant.slug : "\0unknown", route]
    end
  end

  def read_body(req, res)
    unless values(req, 'transfer-encoding').empty?
      res.keep_alive = false
      raise invalid_request('chunked bodies are not read')
    end
    length = values(req, 'content-length').first
    return '' if length.nil? || length.empty?

    unless length.strip.match?(/\A\d+\z/) && length.to_i <= MAX_BODY_BYTES
      res.keep_alive = false
      raise invalid_request('bad Content-Length')
    end
    req.body || ''
  end

  # The bearer token, nil for no credentials; RFC 6750 sections 2 and 3.1.
  def bearer_token(req, query, body)
    fields = values(req, 'authorization')
    raise invalid_request('two Authorization fields') if fields.length > 1

    token = nil
    if fields.length == 1
      match = BEARER.match(fields[0].strip)
      if match && match[1].casecmp?('bearer')
        token = (match[2] || '').strip
        raise invalid_request('empty Bearer credentials') if token.empty?
      end
    end
    in_query = form_has_token?(query)
    in_body = body.include?('access_token') && form_has_token?(body)
    raise invalid_request('token sent by more than one method') if [!token.nil?, in_query, in_body].count(true) > 1
    # The query method is discouraged (RFC 9700 4.3.2); form bodies are not for GET.
    raise invalid_request('token only accepted in the Authorization header') if in_query || in_body

    token
  end

  def form_has_token?(text)
    return false if text.nil? || text.empty?

    text.split(/[&;]/).any? { |pair| URI.decode_www_form_component(pair.split('=', 2)[0].to_s) == 'access_token' }
  rescue ArgumentError # an invalid %-escape: compare the raw name
    text.split(/[&;]/).any? { |pair| pair.split('=', 2)[0] == 'access_token' }
  end

  def handle(req, res)
    path = req.request_uri&.path || req.path
    body = read_body(req, res)
    if path == '/healthz'
      send_json(res, 200, { status: 'ok' })
      return
    end
    slug, route = tenant_and_route(req, path)
    if route.nil?
      send_json(res, 404, { error: 'not_found' })
      return
    end
    token = bearer_token(req, req.query_string, body)
    if token.nil?
      # RFC 6750 section 3: an auth-param at least, and no error code.
      send_json(res, 401, { error: 'unauthorized' }, 'Bearer realm="api"')
      return
    end
    tenant = slug && @config.tenants[slug]
    raise invalid_token('tenant missing, unknown or disabled') if tenant.nil? || !tenant.enabled
    if tenant.agree_header && values(req, tenant.agree_header).any? { |v| v != tenant.slug }
      raise invalid_token("#{tenant.agree_header} names another tenant")
    end

    claims = validate(token, tenant, @config)
    raise invalid_token('client not allowed') unless client_id_allowed?(claims, tenant)

    claims = apply_claim_mappings(claims, tenant.claim_mappings)
    if route == '/api/admin' && !admin?(claims)
      send_json(res, 403, { error: 'insufficient_scope' }, 'Bearer error="insufficient_scope"')
      return
    end
    send_json(res, 200, { tenant: tenant.slug, claims: claims })
  end
end

def main
  port = ENV['BYOID_PORT']
  manifest_path = ENV['BYOID_MANIFEST']
  if port.nil? || !port.match?(/\A\d+\z/) || manifest_path.nil? || manifest_path.empty?
    abort('lib-ruby-jwt: BYOID_PORT must be a TCP port and BYOID_MANIFEST a manifest path')
  end
  begin
    config = Config.new(JSON.parse(File.read(manifest_path)))
  rescue SystemCallError, JSON::ParserError, ArgumentError => e
    abort("lib-ruby-jwt: cannot load manifest #{manifest_path}: #{e.message}")
  end
  server = WEBrick::HTTPServer.new(
    BindAddress: '127.0.0.1',
    Port: port.to_i,
    Logger: WEBrick::Log.new($stderr, DEBUG ? WEBrick::Log::INFO : WEBrick::Log::WARN),
    AccessLog: DEBUG ? [[$stderr, WEBrick::AccessLog::COMMON_LOG_FORMAT]] : [],
    DoNotReverseLookup: true,
    ServerSoftware: 'lib-ruby-jwt'
  )
  server.mount('/', Handler, config)
  %w[TERM INT].each { |signal| trap(signal) { server.shutdown } }
  log("listening on 127.0.0.1:#{port}, ruby-jwt #{JWT::VERSION::STRING}, WEBrick #{WEBrick::VERSION}, " \
      "Ruby #{RUBY_VERSION}, #{config.tenants.size} tenant(s), tenant source #{config.source_kind}")
  server.start
end

main if $PROGRAM_NAME == __FILE__
