// A real OpenID provider (oidc-provider) on loopback for the tests: `node provider.mjs CONFIG.json`.
//
// CONFIG: port, issuer, jwks ({"keys": [private JWKs]}, the first one signs), clients (oidc-provider client
// metadata), audience (the resource server's `aud`), resource (its resource indicator, an absolute URI;
// default: the audience), access_token_ttl (seconds, default 600). Any login name is an account.
// Prints exactly one line `ready` on stdout once listening; everything else goes to stderr.
import { readFileSync } from 'node:fs';
import process from 'node:process';

import { Provider, errors } from 'oidc-provider';

// oidc-provider prints its notices with console.info; stdout carries only `ready`.
console.info = console.error;
console.log = console.error;

function fail(message) {
  console.error(`provider.mjs: ${message}`);
  process.exit(1);
}

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { port, issuer, jwks, clients, audience } = config;
// Resource indicators must be absolute URIs (RFC 8707) while an audience need not be one.
const resource = config.resource ?? audience;
const accessTokenTtl = config.access_token_ttl ?? 600;
const signingAlg = jwks.keys[0].alg;

const options = {
  clients,
  jwks,
  // ID tokens too are signed with the first key's algorithm, so an ES256-only key set works.
  clientDefaults: {
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: signingAlg,
  },
  cookies: { keys: ['ekakte-test-oidc-cookie-key-1', 'ekakte-test-oidc-cookie-key-2'] },
  claims: { openid: ['sub'], profile: ['preferred_username', 'name'] },
  scopes: ['openid', 'profile', 'offline_access'],
  // By default oidc-provider demands PKCE of public clients only; S256 is the only method it offers.
  pkce: { required: () => true },
  ttl: { AccessToken: accessTokenTtl, ClientCredentials: accessTokenTtl },

  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, preferred_username: sub, name: sub };
      },
    };
  },

  // A test IdP grants whatever the client asks for: no consent page after the login form.
  async loadExistingGrant(ctx) {
    const { oidc } = ctx;
    const { Grant } = oidc.provider;
    const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
    const grant = (grantId && (await Grant.find(grantId)))
      || new Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
    grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
    grant.addOIDCClaims([...oidc.requestParamClaims]);
    for (const [indicator, server] of Object.entries(oidc.resourceServers)) {
      grant.addResourceScope(indicator, server.scope);
    }
    await grant.save();
    return grant;
  },

  // A user's access token names the user as the service shows them; a client's has no user.
  async extraTokenClaims(_ctx, token) {
    return token.accountId ? { preferred_username: token.accountId } : undefined;
  },

  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Without a resource= parameter every access token is for the archive's API.
      async defaultResource() {
        return resource;
      },
      // The token endpoint issues the authorization code's access token for the resource granted at the
      // authorization endpoint, without a resource= parameter of its own.
      async useGrantedResource() {
        return true;
      },
      async getResourceServerInfo(_ctx, indicator) {
        if (indicator !== resource) {
          throw new errors.InvalidTarget(`unknown resource ${indicator}`);
        }
        return {
          scope: 'api',
          audience,
          accessTokenTTL: accessTokenTtl,
          accessTokenFormat: 'jwt', // RFC 9068
          jwt: { sign: { alg: signingAlg } },
        };
      },
    },
  },
};

let provider;
try {
  provider = new Provider(issuer, options);
} catch (err) {
  fail(`the configuration is not usable: ${err.message}`);
}

const server = provider.listen(port, '127.0.0.1', () => {
  process.stdout.write('ready\n');
});
server.on('error', (err) => fail(`cannot listen on 127.0.0.1:${port}: ${err.message}`));

process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
