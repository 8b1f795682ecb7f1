package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/starling-social/starling"
	"golang.org/x/crypto/bcrypt"
)

// The browser side of OAuth: /oauth/authorize shows a sign-in page, then a
// consent page, server-rendered with html/template. A browser holds one
// cookie, sessionCookie: a random id that is a signed-in session when the
// store knows its SHA-256, and otherwise only anchors the CSRF token of
// the sign-in form. Every form carries a CSRF token derived from the
// cookie (an HMAC keyed by it), which a cross-site page cannot read or
// compute; a post without the right one is refused with 403.

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

const (
	sessionCookie = "_starling_session"
	sessionTTL    = 14 * 24 * time.Hour
	csrfField     = "authenticity_token"
)

// browser is the session of the browser making a request.
type browser struct {
	id        string // the cookie's value
	accountID int64  // 0 when not signed in
}

// csrf is the form token tied to the session.
func (b browser) csrf() string {
	m := hmac.New(sha256.New, []byte(b.id))
	m.Write([]byte("starling csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// browserSession returns the request's session, setting a new anonymous
// cookie when it has none.
func (s *Server) browserSession(w http.ResponseWriter, r *http.Request) (browser, error) {
	if c, err := r.Cookie(sessionCookie); err == nil && len(c.Value) >= 32 && len(c.Value) <= 64 && validText(c.Value) {
		b := browser{id: c.Value}
		sum := sha256.Sum256([]byte(c.Value))
		id, err := s.Store.WebSessionAccount(r.Context(), sum[:])
		if err != nil && !errors.Is(err, starling.ErrNotFound) {
			return b, err
		}
		b.accountID = id
		return b, nil
	}
	id, _, err := NewToken()
	if err != nil {
		return browser{}, err
	}
	s.setSessionCookie(w, id, 0)
	return browser{id: id}, nil
}

func (s *Server) setSessionCookie(w http.ResponseWriter, id string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.Site.Scheme == "https", MaxAge: int(maxAge.Seconds())})
}

// checkCSRF reports whether a form post carries the session's CSRF token,
// answering 403 when it does not.
func (s *Server) checkCSRF(w http.ResponseWriter, r *http.Request, b browser) bool {
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get(csrfField)), []byte(b.csrf())) == 1 {
		return true
	}
	s.renderError(w, http.StatusForbidden, "invalid_authenticity_token",
		"This form has expired or did not come from this site. Go back, reload the page and try again.")
	return false
}

// page is what every template sees.
type page struct {
	Title, Host string
	CSRF        string

	// Sign-in.
	Login, Error, ErrorCode, ReturnTo, AppName string
	// Consent.
	Acct, Website, ClientID, RedirectURI, Scope, State string
	CodeChallenge, CodeChallengeMethod, SwitchURL      string
	Scopes                                             []scopeLine
	// Out of band.
	Code string
	// Public pages (public_pages.go).
	Alternate string // the ActivityPub document of the page
	OpenGraph *openGraph
	Profile   *profileView
	Post      *postView
	// The admin page (admin_page.go).
	Admin *adminView
}

type scopeLine struct{ Name, Description string }

var scopeDescriptions = map[string]string{
	"read":    "read all your account's data",
	"write":   "modify all your account's data",
	"follow":  "modify account relationships",
	"push":    "receive your push notifications",
	"profile": "read only your account's profile information",
}

func (s *Server) render(w http.ResponseWriter, status int, name string, p page) {
	p.Host = s.Site.Host
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	csp := "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
	if name == "admin.html" { // its refresh script, and the page it fetches again
		csp += "; script-src 'self'; connect-src 'self'"
	}
	h.Set("Content-Security-Policy", csp)
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, p); err != nil {
		s.Logger.Error("render page", "page", name, "error", err)
	}
}

func (s *Server) renderError(w http.ResponseWriter, status int, code, msg string) {
	s.render(w, status, "error.html", page{Title: "An error has occurred", ErrorCode: code, Error: msg})
}

// authRequest is a parsed, checked authorization request.
type authRequest struct {
	app                                                 *starling.OAuthApplication
	redirectURI, scope, state, challenge, challengeMeth string
}

// values are the request's parameters, for a URL or hidden fields.
func (ar *authRequest) values() url.Values {
	v := url.Values{"response_type": {"code"}, "client_id": {ar.app.ClientID},
		"redirect_uri": {ar.redirectURI}, "scope": {ar.scope}}
	if ar.state != "" {
		v.Set("state", ar.state)
	}
	if ar.challenge != "" {
		v.Set("code_challenge", ar.challenge)
		v.Set("code_challenge_method", ar.challengeMeth)
	}
	return v
}

// redirect sends the browser back to the client's redirect URI with params
// (and state) added to its query. Callers handle the out-of-band URI.
func (ar *authRequest) redirect(w http.ResponseWriter, r *http.Request, params url.Values) {
	if ar.state != "" {
		params.Set("state", ar.state)
	}
	u, _ := url.Parse(ar.redirectURI)
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// parseAuthRequest checks an authorization request as Doorkeeper does:
// an unknown client or a redirect URI it did not register is shown as an
// error page (redirecting there would make this an open redirector);
// other errors go back to the client. It returns nil once it answered.
func (s *Server) parseAuthRequest(w http.ResponseWriter, r *http.Request, v url.Values) *authRequest {
	app, err := s.Store.OAuthApplicationByClientID(r.Context(), v.Get("client_id"))
	if errors.Is(err, starling.ErrNotFound) {
		s.renderError(w, http.StatusUnauthorized, "invalid_client",
			"Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.")
		return nil
	}
	if err != nil {
		s.fail(w, r, err)
		return nil
	}
	ar := &authRequest{app: app, redirectURI: v.Get("redirect_uri"), state: v.Get("state"),
		challenge: v.Get("code_challenge"), challengeMeth: v.Get("code_challenge_method")}
	if ar.redirectURI == "" && len(app.RedirectURIs) == 1 {
		ar.redirectURI = app.RedirectURIs[0]
	}
	registered := false
	for _, u := range app.RedirectURIs {
		registered = registered || u == ar.redirectURI
	}
	if !registered {
		s.renderError(w, http.StatusBadRequest, "invalid_redirect_uri",
			"The redirect uri included is not valid.")
		return nil
	}
	fail := func(code, desc string) *authRequest {
		if ar.redirectURI == oobRedirectURI {
			s.renderError(w, http.StatusBadRequest, code, desc)
		} else {
			ar.redirect(w, r, url.Values{"error": {code}, "error_description": {desc}})
		}
		return nil
	}
	if rt := v.Get("response_type"); rt != "code" {
		return fail("unsupported_response_type", "The authorization server does not support this response type.")
	}
	scope, ok := grantedScopes(v.Get("scope"), app.Scopes)
	if !ok {
		return fail("invalid_scope", "The requested scope is invalid, unknown, or malformed.")
	}
	ar.scope = scope
	if ar.challenge != "" && ar.challengeMeth != "S256" {
		return fail("invalid_request", "The code_challenge_method must be S256.")
	}
	if ar.challenge == "" && ar.challengeMeth != "" {
		return fail("invalid_request", "Missing required parameter: code_challenge.")
	}
	return ar
}

// authorizePage shows the sign-in page, or the consent page to a signed-in
// browser: GET /oauth/authorize.
func (s *Server) authorizePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := checkValues(q); err != nil {
		s.renderError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	ar := s.parseAuthRequest(w, r, q)
	if ar == nil {
		return
	}
	b, err := s.browserSession(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var acct *starling.Account
	if b.accountID != 0 && q.Get("force_login") != "true" {
		acct, err = s.Store.AccountByID(r.Context(), b.accountID)
		if err != nil && !errors.Is(err, starling.ErrNotFound) {
			s.fail(w, r, err)
			return
		}
	}
	if acct == nil {
		s.render(w, http.StatusOK, "login.html", page{Title: "Sign in", CSRF: b.csrf(), AppName: ar.app.Name,
			ReturnTo: "/oauth/authorize?" + ar.values().Encode()})
		return
	}
	// Asked again for what they already granted, as Mastodon does (a
	// matching token, and no force_login), the person is not asked again.
	granted, err := s.Store.HasMatchingToken(r.Context(), ar.app.ID, acct.ID, ar.scope)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if granted {
		s.issueCode(w, r, ar, acct.ID)
		return
	}
	var lines []scopeLine
	for _, sc := range strings.Fields(ar.scope) {
		lines = append(lines, scopeLine{Name: sc, Description: scopeDescriptions[sc]})
	}
	switchQ := ar.values()
	switchQ.Set("force_login", "true")
	s.render(w, http.StatusOK, "authorize.html", page{Title: "Authorization required", CSRF: b.csrf(),
		AppName: ar.app.Name, Website: ar.app.Website, Acct: acct.Username, ClientID: ar.app.ClientID,
		RedirectURI: ar.redirectURI, Scope: ar.scope, State: ar.state, CodeChallenge: ar.challenge,
		CodeChallengeMethod: ar.challengeMeth, Scopes: lines, SwitchURL: "/oauth/authorize?" + switchQ.Encode()})
}

// postedForm reads a form posted from one of the pages, with its session,
// and checks its CSRF token; when it answers false it has answered.
func (s *Server) postedForm(w http.ResponseWriter, r *http.Request) (browser, bool) {
	if err := r.ParseForm(); err != nil || checkValues(r.PostForm) != nil {
		s.renderError(w, http.StatusBadRequest, "invalid_request", "The form could not be read.")
		return browser{}, false
	}
	b, err := s.browserSession(w, r)
	if err != nil {
		s.fail(w, r, err)
		return browser{}, false
	}
	return b, s.checkCSRF(w, r, b)
}

// authorizeDecision issues a code when the signed-in person approves, or
// tells the client they denied: POST /oauth/authorize.
func (s *Server) authorizeDecision(w http.ResponseWriter, r *http.Request) {
	b, ok := s.postedForm(w, r)
	if !ok {
		return
	}
	ar := s.parseAuthRequest(w, r, r.PostForm)
	if ar == nil {
		return
	}
	if b.accountID == 0 {
		// The session ended between the pages: sign in again.
		http.Redirect(w, r, "/oauth/authorize?"+ar.values().Encode(), http.StatusSeeOther)
		return
	}
	if r.PostForm.Get("decision") != "approve" {
		if ar.redirectURI == oobRedirectURI {
			s.renderError(w, http.StatusOK, "access_denied", "You denied the authorization request.")
			return
		}
		ar.redirect(w, r, url.Values{"error": {"access_denied"},
			"error_description": {"The resource owner or authorization server denied the request."}})
		return
	}
	s.issueCode(w, r, ar, b.accountID)
}

// issueCode stores a new authorization code for accountID and sends it to
// the client, or shows it for the out-of-band URI.
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, ar *authRequest, accountID int64) {
	code, codeSum, err := NewToken()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	err = s.Store.CreateAuthorizationCode(r.Context(), &starling.OAuthCode{CodeSHA256: codeSum,
		ApplicationID: ar.app.ID, AccountID: accountID, RedirectURI: ar.redirectURI, Scopes: ar.scope,
		CodeChallenge: ar.challenge, CodeChallengeMethod: ar.challengeMeth, ExpiresAt: time.Now().Add(codeTTL)})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ar.redirectURI == oobRedirectURI {
		s.render(w, http.StatusOK, "code.html", page{Title: "Authorization code", AppName: ar.app.Name, Code: code})
		return
	}
	ar.redirect(w, r, url.Values{"code": {code}})
}

// signIn checks a username (or e-mail address) and password and starts a
// signed-in session: POST /auth/sign_in.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	b, ok := s.postedForm(w, r)
	if !ok {
		return
	}
	login := strings.TrimSpace(r.PostForm.Get("username"))
	returnTo := r.PostForm.Get("return_to")
	if !strings.HasPrefix(returnTo, "/oauth/authorize?") && returnTo != "/admin" {
		returnTo = ""
	}
	again := func(status int, msg string) {
		s.render(w, status, "login.html", page{Title: "Sign in", CSRF: b.csrf(), Login: login,
			Error: msg, ReturnTo: returnTo})
	}
	if !s.logins.allow(clientIP(r)) {
		w.Header().Set("Retry-After", "300")
		again(http.StatusTooManyRequests, "Too many attempts. Wait a few minutes, then try again.")
		return
	}
	id, hash, err := s.Store.UserLogin(r.Context(), login)
	if err != nil && !errors.Is(err, starling.ErrNotFound) {
		s.fail(w, r, err)
		return
	}
	// Failures count per account, whichever of its names was typed.
	key := "login:" + strings.ToLower(login)
	if id != 0 {
		key = "account:" + strconv.FormatInt(id, 10)
	}
	if !s.logins.allowFailures(key) {
		w.Header().Set("Retry-After", "300")
		again(http.StatusTooManyRequests, "Too many failed attempts for this account. Wait a few minutes, then try again.")
		return
	}
	if hash == "" {
		hash = dummyHash // spend the same time as for a real account
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(r.PostForm.Get("password"))) != nil || id == 0 {
		s.logins.failed(key)
		again(http.StatusUnauthorized, "Invalid username, e-mail address or password.")
		return
	}
	// A new id on sign-in: a cookie planted before cannot become a session.
	sid, sum, err := NewToken()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Store.CreateWebSession(r.Context(), sum, id, time.Now().Add(sessionTTL)); err != nil {
		s.fail(w, r, err)
		return
	}
	s.setSessionCookie(w, sid, sessionTTL)
	if returnTo == "" {
		s.renderError(w, http.StatusOK, "signed_in", "You are signed in. Go back to your app to continue.")
		return
	}
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

// dummyHash is compared against when no account matches, so that a
// sign-in takes as long for an unknown name as for a wrong password. It is
// bcrypt's hash (cost 10) of "no such account".
const dummyHash = "$2a$10$c2iokLCNAmScubJWpt9Yses7i1nHjXTiFjEUHIEyiI9a/faJUVW2C"

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Sign-in limits, after Mastodon's rack-attack configuration: per IP
// address every attempt counts; per account (or per login typed, when it
// names none) only failures. The counters live in this process's memory: they reset on
// restart and are not shared between processes.
const (
	loginWindow        = 5 * time.Minute
	loginAttemptsPerIP = 25
	loginFailsPerLogin = 10
)

// loginLimiter counts sign-in attempts in fixed windows. The zero value is
// ready; it is safe for concurrent use.
type loginLimiter struct {
	mu sync.Mutex
	m  map[string]*loginWindowCount
}

type loginWindowCount struct {
	n     int
	start time.Time
}

// count returns the counter of key, starting a new window when the last one ended.
// Lock must be held on entry.
func (l *loginLimiter) count(key string, now time.Time) *loginWindowCount {
	if l.m == nil || len(l.m) > 100_000 {
		l.m = map[string]*loginWindowCount{}
	}
	c := l.m[key]
	if c == nil || now.Sub(c.start) > loginWindow {
		c = &loginWindowCount{start: now}
		l.m[key] = c
	}
	return c
}

// allow counts an attempt from ip and reports whether ip is under its limit.
func (l *loginLimiter) allow(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.count("ip:"+ip, time.Now())
	c.n++
	return c.n <= loginAttemptsPerIP
}

// allowFailures reports whether the account key is under its limit of failures.
func (l *loginLimiter) allowFailures(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.count(key, time.Now()).n < loginFailsPerLogin
}

// failed counts a failed attempt for the account key.
func (l *loginLimiter) failed(key string) {
	l.mu.Lock()
	l.count(key, time.Now()).n++
	l.mu.Unlock()
}
