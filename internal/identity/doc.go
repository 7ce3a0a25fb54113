// Package identity works out who is asking for a token: the claims of the
// job's OIDC token, verified against the issuer's published keys (signature,
// issuer, audience, lifetime, subject), or the runner's environment, which any
// step of the job can change and is therefore marked unverified.
package identity
