package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/starling-social/starling"
)

// OAuth 2 as Mastodon serves it (Doorkeeper): apps registered with
// POST /api/v1/apps, the authorization code grant with PKCE (S256) and the
// client_credentials grant at /oauth/token, revocation at /oauth/revoke, and
// RFC 8414 metadata. The browser side of /oauth/authorize is in
// oauth_pages.go. Secrets, codes and tokens are stored as SHA-256 only.

// OAuthStore is what OAuth needs of the store.
type OAuthStore interface {
	CreateOAuthApplication(ctx context.Context, app *starling.OAuthApplication) error
	OAuthApplicationByClientID(ctx context.Context, clientID string) (*starling.OAuthApplication, error)
	OAuthApplicationByToken(ctx context.Context, tokenSHA256 []byte) (*starling.OAuthApplication, error)
	CreateAuthorizationCode(ctx context.Context, c *starling.OAuthCode) error
	ExchangeAuthorizationCode(ctx context.Context, codeSHA256 []byte, check func(*starling.OAuthCode) error, tokenSHA256 []byte) (*starling.OAuthCode, error)
	CreateAppToken(ctx context.Context, tokenSHA256 []byte, applicationID int64, scopes string) error
	AppTokenScopes(ctx context.Context, tokenSHA256 []byte) (string, error)
	HasMatchingToken(ctx context.Context, applicationID, accountID int64, scopes string) (bool, error)
	RevokeOAuthToken(ctx context.Context, tokenSHA256 []byte, applicationID int64) (owner int64, err error)
	UserLogin(ctx context.Context, login string) (accountID int64, passwordHash string, err error)
	CreateWebSession(ctx context.Context, idSHA256 []byte, accountID int64, expires time.Time) error
	WebSessionAccount(ctx context.Context, idSHA256 []byte) (int64, error)
}

const (
	// oobRedirectURI asks for the code to be shown to the person, who
	// pastes it into the app.
	oobRedirectURI = "urn:ietf:wg:oauth:2.0:oob"
	// codeTTL is how long an authorization code may be exchanged (Doorkeeper's default).
	codeTTL = 10 * time.Minute
	// defaultScopes is what an app or authorization gets when it names none.
	defaultScopes = "read"
)

// oauthScopes are the scopes the metadata lists: Mastodon's.
var oauthScopes = []string{"read", "write", "push", "follow", "profile", "admin:read", "admin:write",
	"read:accounts", "read:blocks", "read:bookmarks", "read:favourites", "read:filters", "read:follows",
	"read:lists", "read:mutes", "read:notifications", "read:search", "read:statuses",
	"write:accounts", "write:blocks", "write:bookmarks", "write:conversations", "write:favourites",
	"write:filters", "write:follows", "write:lists", "write:media", "write:mutes",
	"write:notifications", "write:reports", "write:statuses",
	"admin:read:accounts", "admin:read:reports", "admin:read:domain_allows", "admin:read:domain_blocks",
	"admin:read:ip_blocks", "admin:read:email_domain_blocks", "admin:read:canonical_email_blocks",
	"admin:write:accounts", "admin:write:reports", "admin:write:domain_allows", "admin:write:domain_blocks",
	"admin:write:ip_blocks", "admin:write:email_domain_blocks", "admin:write:canonical_email_blocks"}

// oauthRoutes mounts the OAuth endpoints on r.
func (s *Server) oauthRoutes(r chi.Router) {
	r.Get("/.well-known/oauth-authorization-server", s.oauthMetadata)
	r.With(saneURL).Post("/api/v1/apps", s.createApp)
	r.With(saneURL).Get("/api/v1/apps/verify_credentials", s.verifyApp)
	r.Post("/oauth/token", s.oauthToken)
	r.Post("/oauth/revoke", s.oauthRevoke)
	r.Get("/oauth/authorize", s.authorizePage)
	r.Post("/oauth/authorize", s.authorizeDecision)
	r.Post("/auth/sign_in", s.signIn)
}

// oauthError is Doorkeeper's error body.
func oauthError(w http.ResponseWriter, status int, code, description string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="Doorkeeper", error="`+code+`"`)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// Application is Mastodon's Application entity; the CredentialApplication
// that POST /api/v1/apps answers adds the client credentials.
type Application struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Website      *string  `json:"website"`
	Scopes       []string `json:"scopes"`
	RedirectURI  string   `json:"redirect_uri"`
	RedirectURIs []string `json:"redirect_uris"`
	VapidKey     string   `json:"vapid_key"`

	ClientID              string `json:"client_id,omitempty"`
	ClientSecret          string `json:"client_secret,omitempty"`
	ClientSecretExpiresAt *int   `json:"client_secret_expires_at,omitempty"`
}

func renderApplication(app *starling.OAuthApplication) Application {
	a := Application{ID: strconv.FormatInt(app.ID, 10), Name: app.Name, Scopes: strings.Fields(app.Scopes),
		RedirectURI: strings.Join(app.RedirectURIs, "\n"), RedirectURIs: app.RedirectURIs}
	if app.Website != "" {
		a.Website = &app.Website
	}
	return a
}

// createApp registers a client: POST /api/v1/apps.
func (s *Server) createApp(w http.ResponseWriter, r *http.Request) {
	v, err := params(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	name := strings.TrimSpace(v.Get("client_name"))
	var uris []string
	for _, raw := range append(v["redirect_uris"], v["redirect_uris[]"]...) {
		uris = append(uris, strings.Fields(raw)...) // newline- or space-separated, as Doorkeeper reads them
	}
	scopes := strings.Fields(strings.Join(append(v["scopes"], v["scopes[]"]...), " "))
	if len(scopes) == 0 {
		scopes = []string{defaultScopes}
	}
	website := strings.TrimSpace(v.Get("website"))
	var problems []string
	switch {
	case name == "":
		problems = append(problems, "Application name can't be blank")
	case len([]rune(name)) > 60:
		problems = append(problems, "Application name is too long (maximum is 60 characters)")
	}
	switch {
	case len(uris) == 0:
		problems = append(problems, "Redirect URI can't be blank")
	case len(strings.Join(uris, "\n")) > 2000 || len(uris) > 20:
		problems = append(problems, "Redirect URI is too long (maximum is 2000 characters)")
	}
	for _, u := range uris {
		if msg := checkRedirectURI(u); msg != "" {
			problems = append(problems, msg)
			break
		}
	}
	for _, sc := range scopes {
		if !knownScopes.MatchString(sc) {
			problems = append(problems, "Scopes must be a known scope, not "+strconv.Quote(sc))
			break
		}
	}
	if len(website) > 2000 {
		problems = append(problems, "Website is too long (maximum is 2000 characters)")
	} else if website != "" {
		if u, err := url.Parse(website); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			problems = append(problems, "Website is not a valid URL")
		}
	}
	if len(problems) > 0 {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: "+strings.Join(problems, ", "))
		return
	}
	clientID, _, err := NewToken()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	secret, secretSum, err := NewToken()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	app := &starling.OAuthApplication{Name: name, Website: website, RedirectURIs: uris,
		Scopes: strings.Join(scopes, " "), ClientID: clientID, ClientSecretSHA256: secretSum}
	if err := s.Store.CreateOAuthApplication(r.Context(), app); err != nil {
		s.fail(w, r, err)
		return
	}
	out := renderApplication(app)
	out.ClientID, out.ClientSecret = clientID, secret
	out.ClientSecretExpiresAt = new(int)
	writeJSON(w, http.StatusOK, out)
}

// checkRedirectURI says what is wrong with a redirect URI, or "". Like
// Doorkeeper it wants an absolute URI without a fragment; custom schemes
// (app callbacks) and http are allowed, as on Mastodon.
func checkRedirectURI(raw string) string {
	if raw == oobRedirectURI {
		return ""
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || !validText(raw):
		return "Redirect URI must be an absolute URI."
	case u.Fragment != "":
		return "Redirect URI cannot contain a fragment."
	case (u.Scheme == "http" || u.Scheme == "https") && u.Host == "":
		return "Redirect URI must be an absolute URI."
	}
	return ""
}

// verifyApp answers the application of the bearer token:
// GET /api/v1/apps/verify_credentials.
func (s *Server) verifyApp(w http.ResponseWriter, r *http.Request) {
	token := bearerToken(r)
	if token == "" {
		writeError(w, http.StatusUnauthorized, "The access token is invalid")
		return
	}
	sum := sha256.Sum256([]byte(token))
	app, err := s.Store.OAuthApplicationByToken(r.Context(), sum[:])
	if errors.Is(err, starling.ErrNotFound) {
		writeError(w, http.StatusUnauthorized, "The access token is invalid")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, renderApplication(app))
}

// oauthParams reads an /oauth/token or /oauth/revoke request: form or
// JSON, with the client credentials in the body or in HTTP Basic auth.
func oauthParams(r *http.Request) (url.Values, error) {
	v, err := params(r)
	if err != nil {
		return nil, err
	}
	if id, secret, ok := r.BasicAuth(); ok && v.Get("client_id") == "" {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		v.Set("client_id", id)
		v.Set("client_secret", secret)
	}
	return v, nil
}

// authenticateClient returns the application whose client_id and
// client_secret v carries, or nil after answering 401 invalid_client.
func (s *Server) authenticateClient(w http.ResponseWriter, r *http.Request, v url.Values) *starling.OAuthApplication {
	app, err := s.Store.OAuthApplicationByClientID(r.Context(), v.Get("client_id"))
	if err != nil && !errors.Is(err, starling.ErrNotFound) {
		s.fail(w, r, err)
		return nil
	}
	if app != nil {
		sum := sha256.Sum256([]byte(v.Get("client_secret")))
		if subtle.ConstantTimeCompare(sum[:], app.ClientSecretSHA256) == 1 {
			return app
		}
	}
	oauthError(w, http.StatusUnauthorized, "invalid_client",
		"Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.")
	return nil
}

// tokenResponse is what /oauth/token answers.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	Scope       string `json:"scope"`
	CreatedAt   int64  `json:"created_at"`
}

const invalidGrant = "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."

// oauthToken issues tokens: POST /oauth/token.
func (s *Server) oauthToken(w http.ResponseWriter, r *http.Request) {
	v, err := oauthParams(r)
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	grant := v.Get("grant_type")
	switch grant {
	case "authorization_code", "client_credentials":
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: grant_type.")
		return
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "The authorization grant type is not supported by the authorization server.")
		return
	}
	app := s.authenticateClient(w, r, v)
	if app == nil {
		return
	}
	token, tokenSum, err := NewToken()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var scopes string
	switch grant {
	case "client_credentials":
		var ok bool
		if scopes, ok = grantedScopes(v.Get("scope"), app.Scopes); !ok {
			oauthError(w, http.StatusBadRequest, "invalid_scope", "The requested scope is invalid, unknown, or malformed.")
			return
		}
		if err := s.Store.CreateAppToken(r.Context(), tokenSum, app.ID, scopes); err != nil {
			s.fail(w, r, err)
			return
		}
	case "authorization_code":
		code := v.Get("code")
		if code == "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: code.")
			return
		}
		codeSum := sha256.Sum256([]byte(code))
		errGrant := errors.New("invalid grant")
		c, err := s.Store.ExchangeAuthorizationCode(r.Context(), codeSum[:], func(c *starling.OAuthCode) error {
			if c.ApplicationID != app.ID || c.RedirectURI != v.Get("redirect_uri") {
				return errGrant
			}
			if c.CodeChallenge != "" && !pkceMatches(c.CodeChallenge, v.Get("code_verifier")) {
				return errGrant
			}
			return nil
		}, tokenSum)
		if errors.Is(err, errGrant) || errors.Is(err, starling.ErrNotFound) || errors.Is(err, starling.ErrCodeUsed) {
			if errors.Is(err, starling.ErrCodeUsed) {
				s.Logger.Warn("authorization code replayed; its tokens are revoked", "client_id", app.ClientID)
			}
			oauthError(w, http.StatusBadRequest, "invalid_grant", invalidGrant)
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		scopes = c.Scopes
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, tokenResponse{AccessToken: token, TokenType: "Bearer", Scope: scopes,
		CreatedAt: time.Now().Unix()})
}

// grantedScopes returns the scopes of a request (space-separated, the
// application's default scope when empty) and whether the application may
// have them all.
func grantedScopes(requested, allowed string) (string, bool) {
	want := strings.Fields(requested)
	if len(want) == 0 {
		want = []string{defaultScopes}
	}
	for _, sc := range want {
		if !knownScopes.MatchString(sc) || !hasScope(strings.Fields(allowed), sc) {
			return "", false
		}
	}
	return strings.Join(want, " "), true
}

// pkceMatches checks an S256 code verifier against its challenge.
func pkceMatches(challenge, verifier string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// oauthRevoke revokes a token the client holds: POST /oauth/revoke. As
// RFC 7009 asks, an unknown token is answered like a revoked one; a token
// of another application is refused with 403, as Doorkeeper does.
func (s *Server) oauthRevoke(w http.ResponseWriter, r *http.Request) {
	v, err := oauthParams(r)
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	if v.Get("token") == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: token.")
		return
	}
	app := s.authenticateClient(w, r, v)
	if app == nil {
		return
	}
	sum := sha256.Sum256([]byte(v.Get("token")))
	owner, err := s.Store.RevokeOAuthToken(r.Context(), sum[:], app.ID)
	if err != nil && !errors.Is(err, starling.ErrNotFound) {
		s.fail(w, r, err)
		return
	}
	if err == nil && owner != app.ID {
		oauthError(w, http.StatusForbidden, "unauthorized_client", "You are not authorized to revoke this token")
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// oauthMetadata is RFC 8414 metadata, as Mastodon 4.3 serves it.
func (s *Server) oauthMetadata(w http.ResponseWriter, r *http.Request) {
	base := s.Site.Base()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                base + "/",
		"service_documentation":                 "https://docs.joinmastodon.org/",
		"authorization_endpoint":                base + "/oauth/authorize",
		"token_endpoint":                        base + "/oauth/token",
		"app_registration_endpoint":             base + "/api/v1/apps",
		"revocation_endpoint":                   base + "/oauth/revoke",
		"scopes_supported":                      oauthScopes,
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"code_challenge_methods_supported":      []string{"S256"},
		"grant_types_supported":                 []string{"authorization_code", "client_credentials"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
	})
}
