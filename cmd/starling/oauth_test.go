package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/starling-social/starling/api"
)

// oauthApp is a client registered with POST /api/v1/apps.
type oauthApp struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	RedirectURI  string   `json:"redirect_uri"`
	RedirectURIs []string `json:"redirect_uris"`
	Scopes       []string `json:"scopes"`
}

// oauthToken is what /oauth/token answers.
type oauthToken struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	Scope       string `json:"scope"`
	CreatedAt   int64  `json:"created_at"`
}

// browserClient keeps cookies and does not follow redirects, so that a
// test sees where the server sends the browser.
func browserClient(t *testing.T) *http.Client {
	t.Helper()
	return &http.Client{Jar: must(cookiejar.New(nil)), Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// send makes a request and returns its status, headers and body.
func send(t *testing.T, c *http.Client, method, rawURL string, hdr http.Header, body string) (int, http.Header, string) {
	t.Helper()
	req := must(http.NewRequest(method, rawURL, strings.NewReader(body)))
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(data)
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// formFields returns the hidden fields of the form in an HTML page.
func formFields(page string) url.Values {
	v := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(page, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

func createApp(t *testing.T, in *instance, form url.Values) oauthApp {
	t.Helper()
	var app oauthApp
	if code := in.call("POST", "/api/v1/apps", "", form, &app); code != http.StatusOK {
		t.Fatalf("create app: status %d", code)
	}
	return app
}

// pkce returns a code verifier and its S256 challenge.
func pkce(seed string) (verifier, challenge string) {
	verifier = strings.Repeat(seed, 43/len(seed)+1)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// signIn posts the sign-in form of a login page and returns where the
// server sends the browser next.
func signIn(t *testing.T, c *http.Client, in *instance, loginPage, username, password string) (int, string) {
	t.Helper()
	f := formFields(loginPage)
	f.Set("username", username)
	f.Set("password", password)
	code, hdr, _ := send(t, c, "POST", in.base+"/auth/sign_in", nil, f.Encode())
	return code, hdr.Get("Location")
}

// authorize walks the browser through /oauth/authorize (signing in when
// asked) and approves (unless the server remembers an earlier approval);
// it returns the URL the server redirects to.
func authorize(t *testing.T, c *http.Client, in *instance, q url.Values, username string) *url.URL {
	t.Helper()
	code, hdr, body := send(t, c, "GET", in.base+"/oauth/authorize?"+q.Encode(), nil, "")
	if strings.Contains(body, `action="/auth/sign_in"`) {
		status, loc := signIn(t, c, in, body, username, "correct horse battery")
		if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/oauth/authorize?") {
			t.Fatalf("sign in: status %d, location %q", status, loc)
		}
		code, hdr, body = send(t, c, "GET", in.base+loc, nil, "")
	}
	if code == http.StatusFound {
		return must(url.Parse(hdr.Get("Location"))) // approved before
	}
	if code != http.StatusOK {
		t.Fatalf("authorize: status %d: %s", code, body)
	}
	if !strings.Contains(body, `action="/oauth/authorize"`) {
		t.Fatalf("no consent form in %s", body)
	}
	f := formFields(body)
	f.Set("decision", "approve")
	code, hdr, body = send(t, c, "POST", in.base+"/oauth/authorize", nil, f.Encode())
	if code != http.StatusFound {
		t.Fatalf("approve: status %d: %s", code, body)
	}
	return must(url.Parse(hdr.Get("Location")))
}

// exchange posts to /oauth/token and returns the status and JSON answer.
func exchange(t *testing.T, in *instance, form url.Values) (int, map[string]any) {
	t.Helper()
	code, _, body := send(t, in.client, "POST", in.base+"/oauth/token", nil, form.Encode())
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("/oauth/token answered %d %q", code, body)
	}
	return code, out
}

// TestOAuth drives Mastodon's OAuth flows as clients do, with their bad inputs.
func TestOAuth(t *testing.T) {
	in := startInstance(t, "A")
	in.user("alice")
	const cb = "https://app.example/callback"
	app := createApp(t, in, url.Values{"client_name": {"Test App"}, "redirect_uris": {cb + "\n" + "urn:ietf:wg:oauth:2.0:oob"},
		"scopes": {"read write follow"}, "website": {"https://app.example"}})
	browser := browserClient(t)
	authQuery := func(extra ...string) url.Values {
		q := url.Values{"response_type": {"code"}, "client_id": {app.ClientID}, "redirect_uri": {cb},
			"scope": {"read write"}, "state": {"xyz"}}
		for i := 0; i+1 < len(extra); i += 2 {
			q.Set(extra[i], extra[i+1])
		}
		return q
	}
	codeGrant := func(code, verifier string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "client_id": {app.ClientID},
			"client_secret": {app.ClientSecret}, "redirect_uri": {cb}, "code": {code}, "code_verifier": {verifier}}
	}

	t.Run("AppsJSON", func(t *testing.T) {
		body := `{"client_name":"JSON App","redirect_uris":["https://a.example/cb","myapp://oauth"],"scopes":"read write:statuses"}`
		code, _, out := send(t, in.client, "POST", in.base+"/api/v1/apps",
			http.Header{"Content-Type": {"application/json"}}, body)
		var got oauthApp
		if code != http.StatusOK || json.Unmarshal([]byte(out), &got) != nil {
			t.Fatalf("status %d: %s", code, out)
		}
		if got.ClientID == "" || got.ClientSecret == "" || got.Name != "JSON App" ||
			got.RedirectURI != "https://a.example/cb\nmyapp://oauth" || len(got.RedirectURIs) != 2 ||
			strings.Join(got.Scopes, " ") != "read write:statuses" {
			t.Fatalf("app %+v", got)
		}
		form := createApp(t, in, url.Values{"client_name": {"Form"}, "redirect_uris[]": {"https://a.example/1", "https://a.example/2"},
			"scopes": {"read push"}})
		if len(form.RedirectURIs) != 2 || strings.Join(form.Scopes, " ") != "read push" {
			t.Fatalf("form app %+v", form)
		}
		def := createApp(t, in, url.Values{"client_name": {"Defaults"}, "redirect_uris": {"urn:ietf:wg:oauth:2.0:oob"}})
		if strings.Join(def.Scopes, " ") != "read" {
			t.Fatalf("default scopes %v, want read", def.Scopes)
		}
	})

	t.Run("AppsValidation", func(t *testing.T) {
		for _, form := range []url.Values{
			{"redirect_uris": {cb}},
			{"client_name": {"x"}},
			{"client_name": {"x"}, "redirect_uris": {"/relative"}},
			{"client_name": {"x"}, "redirect_uris": {"https://a.example/#frag"}},
			{"client_name": {"x"}, "redirect_uris": {cb}, "scopes": {"read everything"}},
			{"client_name": {strings.Repeat("x", 61)}, "redirect_uris": {cb}},
			{"client_name": {"x"}, "redirect_uris": {"https://a.example/" + strings.Repeat("x", 2000)}},
			{"client_name": {"x"}, "redirect_uris": {cb}, "website": {"javascript:alert(1)"}},
		} {
			if code := in.call("POST", "/api/v1/apps", "", form, nil); code != http.StatusUnprocessableEntity {
				t.Errorf("%v: status %d, want 422", form, code)
			}
		}
	})

	t.Run("Metadata", func(t *testing.T) {
		var md map[string]any
		in.mustCall("GET", "/.well-known/oauth-authorization-server", "", nil, &md)
		if md["token_endpoint"] != in.base+"/oauth/token" || md["authorization_endpoint"] != in.base+"/oauth/authorize" ||
			md["app_registration_endpoint"] != in.base+"/api/v1/apps" || md["revocation_endpoint"] != in.base+"/oauth/revoke" {
			t.Fatalf("metadata %v", md)
		}
	})

	var token string
	t.Run("CodeFlowPKCE", func(t *testing.T) {
		verifier, challenge := pkce("v3rifier-")
		// A first visit: the sign-in page, with a session cookie that is HttpOnly and SameSite=Lax.
		code, hdr, body := send(t, browserClient(t), "GET", in.base+"/oauth/authorize?"+authQuery().Encode(), nil, "")
		if code != http.StatusOK || !strings.Contains(body, `name="password"`) {
			t.Fatalf("sign-in page: %d %s", code, body)
		}
		if c := hdr.Get("Set-Cookie"); !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Lax") {
			t.Fatalf("session cookie %q", c)
		}
		loc := authorize(t, browser, in, authQuery("code_challenge", challenge, "code_challenge_method", "S256"), "alice")
		if !strings.HasPrefix(loc.String(), cb+"?") || loc.Query().Get("state") != "xyz" || loc.Query().Get("code") == "" {
			t.Fatalf("redirected to %s", loc)
		}
		status, out := exchange(t, in, codeGrant(loc.Query().Get("code"), verifier))
		if status != http.StatusOK || out["token_type"] != "Bearer" || out["scope"] != "read write" || out["created_at"] == nil {
			t.Fatalf("token: %d %v", status, out)
		}
		token = out["access_token"].(string)
		var acct api.Account
		in.mustCall("GET", "/api/v1/accounts/verify_credentials", token, nil, &acct)
		if acct.Username != "alice" {
			t.Fatalf("token is %s's", acct.Username)
		}
		var got oauthApp
		in.mustCall("GET", "/api/v1/apps/verify_credentials", token, nil, &got)
		if got.Name != "Test App" || got.ClientSecret != "" {
			t.Fatalf("apps/verify_credentials %+v", got)
		}

		// The code again: refused, and the token it gave is revoked.
		status, out = exchange(t, in, codeGrant(loc.Query().Get("code"), verifier))
		if status != http.StatusBadRequest || out["error"] != "invalid_grant" || out["error_description"] == "" {
			t.Fatalf("replayed code: %d %v", status, out)
		}
		if code := in.call("GET", "/api/v1/accounts/verify_credentials", token, nil, nil); code != http.StatusUnauthorized {
			t.Fatalf("token of a replayed code: status %d, want 401", code)
		}
	})

	t.Run("PKCEMismatch", func(t *testing.T) {
		verifier, challenge := pkce("right-")
		wrong, _ := pkce("wrong-")
		loc := authorize(t, browser, in, authQuery("code_challenge", challenge, "code_challenge_method", "S256"), "alice")
		for _, v := range []string{wrong, ""} {
			if status, out := exchange(t, in, codeGrant(loc.Query().Get("code"), v)); status != http.StatusBadRequest || out["error"] != "invalid_grant" {
				t.Fatalf("verifier %q: %d %v", v, status, out)
			}
		}
		if status, _ := exchange(t, in, codeGrant(loc.Query().Get("code"), verifier)); status != http.StatusOK {
			t.Fatalf("right verifier after wrong ones: %d", status)
		}
		// Plain PKCE is not offered.
		code, hdr, _ := send(t, browser, "GET", in.base+"/oauth/authorize?"+
			authQuery("code_challenge", "abc", "code_challenge_method", "plain").Encode(), nil, "")
		if u := must(url.Parse(hdr.Get("Location"))); code != http.StatusFound || u.Query().Get("error") != "invalid_request" {
			t.Fatalf("plain PKCE: %d %s", code, u)
		}
	})

	t.Run("ConcurrentExchange", func(t *testing.T) {
		loc := authorize(t, browser, in, authQuery(), "alice")
		codes := make(chan int, 8)
		var wg sync.WaitGroup
		for range cap(codes) {
			wg.Go(func() {
				status, _ := exchange(t, in, codeGrant(loc.Query().Get("code"), ""))
				codes <- status
			})
		}
		wg.Wait()
		close(codes)
		ok := 0
		for status := range codes {
			switch status {
			case http.StatusOK:
				ok++
			case http.StatusBadRequest:
			default:
				t.Errorf("status %d", status)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d concurrent exchanges of one code succeeded, want 1", ok, cap(codes))
		}
	})

	t.Run("ExpiredCode", func(t *testing.T) {
		skipUnlessPostgres(t, in)
		loc := authorize(t, browser, in, authQuery(), "alice")
		conn := must(pgx.Connect(context.Background(), in.cfg.DatabaseURL))
		defer conn.Close(context.Background())
		sum := sha256.Sum256([]byte(loc.Query().Get("code")))
		tag := must(conn.Exec(context.Background(),
			`UPDATE oauth_codes SET expires_at = now() - interval '1 second' WHERE code_sha256 = $1`, sum[:]))
		if tag.RowsAffected() != 1 {
			t.Fatal("code not stored by its SHA-256")
		}
		if status, out := exchange(t, in, codeGrant(loc.Query().Get("code"), "")); status != http.StatusBadRequest || out["error"] != "invalid_grant" {
			t.Fatalf("expired code: %d %v", status, out)
		}
	})

	t.Run("UnknownClient", func(t *testing.T) {
		code, hdr, _ := send(t, browser, "GET", in.base+"/oauth/authorize?"+authQuery("client_id", "nope").Encode(), nil, "")
		if code != http.StatusUnauthorized || hdr.Get("Location") != "" {
			t.Fatalf("authorize: %d, location %q", code, hdr.Get("Location"))
		}
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"nope"}, "client_secret": {"x"}}
		if status, out := exchange(t, in, form); status != http.StatusUnauthorized || out["error"] != "invalid_client" {
			t.Fatalf("token: %d %v", status, out)
		}
		form.Set("client_id", app.ClientID) // with a wrong secret
		if status, out := exchange(t, in, form); status != http.StatusUnauthorized || out["error"] != "invalid_client" {
			t.Fatalf("wrong secret: %d %v", status, out)
		}
	})

	t.Run("WrongRedirectURI", func(t *testing.T) {
		code, hdr, _ := send(t, browser, "GET", in.base+"/oauth/authorize?"+
			authQuery("redirect_uri", "https://evil.example/cb").Encode(), nil, "")
		if code != http.StatusBadRequest || hdr.Get("Location") != "" {
			t.Fatalf("authorize: %d, location %q", code, hdr.Get("Location"))
		}
		loc := authorize(t, browser, in, authQuery(), "alice")
		form := codeGrant(loc.Query().Get("code"), "")
		form.Set("redirect_uri", "urn:ietf:wg:oauth:2.0:oob")
		if status, out := exchange(t, in, form); status != http.StatusBadRequest || out["error"] != "invalid_grant" {
			t.Fatalf("token: %d %v", status, out)
		}
	})

	t.Run("InvalidScope", func(t *testing.T) {
		code, hdr, _ := send(t, browser, "GET", in.base+"/oauth/authorize?"+authQuery("scope", "read admin:write").Encode(), nil, "")
		if u := must(url.Parse(hdr.Get("Location"))); code != http.StatusFound || u.Query().Get("error") != "invalid_scope" || u.Query().Get("state") != "xyz" {
			t.Fatalf("%d %s", code, u)
		}
	})

	t.Run("ConsentRemembered", func(t *testing.T) {
		// alice holds a token of this app for "read write" (PKCEMismatch):
		// asked again, the server does not ask her again, as Mastodon.
		code, hdr, _ := send(t, browser, "GET", in.base+"/oauth/authorize?"+authQuery().Encode(), nil, "")
		if u := must(url.Parse(hdr.Get("Location"))); code != http.StatusFound || u.Query().Get("code") == "" {
			t.Fatalf("remembered consent: %d %s", code, u)
		}
		// Unless the app forces a sign-in, or asks for other scopes.
		if _, _, page := send(t, browser, "GET", in.base+"/oauth/authorize?"+authQuery("force_login", "true").Encode(), nil, ""); !strings.Contains(page, `name="password"`) {
			t.Fatal("force_login did not ask to sign in")
		}
		if code, _, page := send(t, browser, "GET", in.base+"/oauth/authorize?"+authQuery("scope", "read").Encode(), nil, ""); code != http.StatusOK || !strings.Contains(page, `value="approve"`) {
			t.Fatalf("other scopes: %d, no consent form", code)
		}
	})

	t.Run("Deny", func(t *testing.T) {
		_, _, body := send(t, browser, "GET", in.base+"/oauth/authorize?"+authQuery("scope", "follow").Encode(), nil, "")
		f := formFields(body)
		f.Set("decision", "deny")
		code, hdr, _ := send(t, browser, "POST", in.base+"/oauth/authorize", nil, f.Encode())
		if u := must(url.Parse(hdr.Get("Location"))); code != http.StatusFound || u.Query().Get("error") != "access_denied" {
			t.Fatalf("%d %s", code, u)
		}
	})

	t.Run("OutOfBand", func(t *testing.T) {
		_, _, body := send(t, browser, "GET", in.base+"/oauth/authorize?"+
			authQuery("redirect_uri", "urn:ietf:wg:oauth:2.0:oob", "scope", "read follow").Encode(), nil, "")
		f := formFields(body)
		f.Set("decision", "approve")
		code, _, body := send(t, browser, "POST", in.base+"/oauth/authorize", nil, f.Encode())
		m := regexp.MustCompile(`id="authorization_code">([^<]+)<`).FindStringSubmatch(body)
		if code != http.StatusOK || m == nil {
			t.Fatalf("%d %s", code, body)
		}
		form := codeGrant(m[1], "")
		form.Set("redirect_uri", "urn:ietf:wg:oauth:2.0:oob")
		if status, out := exchange(t, in, form); status != http.StatusOK {
			t.Fatalf("token: %d %v", status, out)
		}
	})

	t.Run("CSRF", func(t *testing.T) {
		other := browserClient(t)
		_, _, loginPage := send(t, other, "GET", in.base+"/oauth/authorize?"+authQuery().Encode(), nil, "")
		f := formFields(loginPage)
		f.Set("username", "alice")
		f.Set("password", "correct horse battery")
		f.Del("authenticity_token")
		if code, _, _ := send(t, other, "POST", in.base+"/auth/sign_in", nil, f.Encode()); code != http.StatusForbidden {
			t.Fatalf("sign-in without a CSRF token: %d, want 403", code)
		}
		// The signed-in browser's consent form, posted without its token
		// or with another session's token (a forged cross-site post).
		_, _, consent := send(t, browser, "GET", in.base+"/oauth/authorize?"+authQuery("scope", "write follow").Encode(), nil, "")
		f = formFields(consent)
		f.Set("decision", "approve")
		for _, tok := range []string{"", formFields(loginPage).Get("authenticity_token")} {
			f.Set("authenticity_token", tok)
			if code, hdr, _ := send(t, browser, "POST", in.base+"/oauth/authorize", nil, f.Encode()); code != http.StatusForbidden || hdr.Get("Location") != "" {
				t.Fatalf("consent with token %q: %d, want 403", tok, code)
			}
		}
	})

	t.Run("WrongPassword", func(t *testing.T) {
		c := browserClient(t)
		_, _, loginPage := send(t, c, "GET", in.base+"/oauth/authorize?"+authQuery().Encode(), nil, "")
		code, loc := signIn(t, c, in, loginPage, "alice@example.test", "wrong password")
		if code != http.StatusUnauthorized || loc != "" {
			t.Fatalf("wrong password: %d %q", code, loc)
		}
		// Still not signed in; the e-mail address works as the login.
		_, _, page := send(t, c, "GET", in.base+"/oauth/authorize?"+authQuery().Encode(), nil, "")
		if !strings.Contains(page, `name="password"`) {
			t.Fatal("signed in after a wrong password")
		}
		if code, loc := signIn(t, c, in, page, "ALICE@example.test", "correct horse battery"); code != http.StatusSeeOther || loc == "" {
			t.Fatalf("e-mail sign-in: %d %q", code, loc)
		}
	})

	t.Run("ForceLogin", func(t *testing.T) {
		_, _, page := send(t, browser, "GET", in.base+"/oauth/authorize?"+authQuery("force_login", "true").Encode(), nil, "")
		if !strings.Contains(page, `name="password"`) || strings.Contains(formFields(page).Get("return_to"), "force_login") {
			t.Fatalf("force_login page: %s", page)
		}
	})

	t.Run("ClientCredentials", func(t *testing.T) {
		status, out := exchange(t, in, url.Values{"grant_type": {"client_credentials"}, "client_id": {app.ClientID},
			"client_secret": {app.ClientSecret}, "scope": {"read"}})
		if status != http.StatusOK || out["scope"] != "read" {
			t.Fatalf("%d %v", status, out)
		}
		tok := out["access_token"].(string)
		in.mustCall("GET", "/api/v1/apps/verify_credentials", tok, nil, nil)
		// As on Mastodon: an app token reads public timelines, and user
		// endpoints answer 422.
		in.mustCall("GET", "/api/v1/timelines/public", tok, nil, nil)
		if code := in.call("GET", "/api/v1/accounts/verify_credentials", tok, nil, nil); code != http.StatusUnprocessableEntity {
			t.Fatalf("app token on a user endpoint: %d, want 422", code)
		}
		// JSON body, HTTP Basic client authentication, a scope beyond the app's.
		req := must(http.NewRequest("POST", in.base+"/oauth/token", strings.NewReader(`{"grant_type":"client_credentials","scope":"admin:read"}`)))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(app.ClientID, app.ClientSecret)
		resp := must(in.client.Do(req))
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("scope beyond the app's: %d", resp.StatusCode)
		}
		if status, out := exchange(t, in, url.Values{"grant_type": {"password"}, "client_id": {app.ClientID},
			"client_secret": {app.ClientSecret}}); status != http.StatusBadRequest || out["error"] != "unsupported_grant_type" {
			t.Fatalf("password grant: %d %v", status, out)
		}
	})

	t.Run("ScopesAndRevoke", func(t *testing.T) {
		// read covers read:statuses; read:accounts alone does not.
		tokenFor := func(scope string) string {
			loc := authorize(t, browser, in, authQuery("scope", scope), "alice")
			status, out := exchange(t, in, codeGrant(loc.Query().Get("code"), ""))
			if status != http.StatusOK || out["scope"] != scope {
				t.Fatalf("token for %q: %d %v", scope, status, out)
			}
			return out["access_token"].(string)
		}
		profile := tokenFor("profile")
		var me api.Account
		in.mustCall("GET", "/api/v1/accounts/verify_credentials", profile, nil, &me)
		if code := in.call("GET", "/api/v1/accounts/"+me.ID, profile, nil, nil); code != http.StatusForbidden {
			t.Fatalf("an account with profile: %d, want 403", code)
		}
		narrow := tokenFor("read:accounts")
		in.mustCall("GET", "/api/v1/accounts/verify_credentials", narrow, nil, nil)
		if code := in.call("GET", "/api/v1/timelines/home", narrow, nil, nil); code != http.StatusForbidden {
			t.Fatalf("home with read:accounts: %d, want 403", code)
		}
		if code := in.call("POST", "/api/v1/statuses", narrow, url.Values{"status": {"hi"}}, nil); code != http.StatusForbidden {
			t.Fatalf("post with read:accounts: %d, want 403", code)
		}
		broad := tokenFor("read write")
		in.mustCall("GET", "/api/v1/timelines/home", broad, nil, nil)
		in.mustCall("POST", "/api/v1/statuses", broad, url.Values{"status": {"hello from OAuth"}}, nil)

		// Another app may not revoke it (403, as Doorkeeper); its own app may.
		other := createApp(t, in, url.Values{"client_name": {"Other"}, "redirect_uris": {cb}})
		revoke := func(a oauthApp) int {
			code, _, _ := send(t, in.client, "POST", in.base+"/oauth/revoke", nil, url.Values{"token": {broad},
				"client_id": {a.ClientID}, "client_secret": {a.ClientSecret}}.Encode())
			return code
		}
		if code := revoke(other); code != http.StatusForbidden {
			t.Fatalf("revoke by another app: %d", code)
		}
		in.mustCall("GET", "/api/v1/accounts/verify_credentials", broad, nil, nil)
		if code := revoke(app); code != http.StatusOK {
			t.Fatalf("revoke: %d", code)
		}
		if code := in.call("GET", "/api/v1/accounts/verify_credentials", broad, nil, nil); code != http.StatusUnauthorized {
			t.Fatalf("revoked token: %d, want 401", code)
		}
	})

	t.Run("CORS", func(t *testing.T) {
		for _, path := range []string{"/api/v1/statuses", "/oauth/token", "/oauth/revoke", "/api/v1/apps",
			"/api/v1/streaming/public", "/.well-known/oauth-authorization-server"} {
			code, hdr, _ := send(t, in.client, "OPTIONS", in.base+path, http.Header{"Origin": {"https://elk.zone"},
				"Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"authorization,content-type"}}, "")
			if code != http.StatusOK || hdr.Get("Access-Control-Allow-Origin") != "*" ||
				hdr.Get("Access-Control-Allow-Headers") != "authorization,content-type" ||
				hdr.Get("Access-Control-Allow-Methods") == "" {
				t.Fatalf("preflight %s: %d %v", path, code, hdr)
			}
		}
		// A hosted client calling a Starling on this machine: Chromium's
		// Private Network Access preflight is allowed.
		_, hdr, _ := send(t, in.client, "OPTIONS", in.base+"/api/v2/instance", http.Header{"Origin": {"https://elk.zone"},
			"Access-Control-Request-Method": {"GET"}, "Access-Control-Request-Private-Network": {"true"}}, "")
		if hdr.Get("Access-Control-Allow-Private-Network") != "true" {
			t.Errorf("private network preflight: %v", hdr)
		}
		code, hdr, _ := send(t, in.client, "GET", in.base+"/api/v1/timelines/home", http.Header{"Origin": {"https://elk.zone"}}, "")
		if code != http.StatusUnauthorized || hdr.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(hdr.Get("Access-Control-Expose-Headers"), "Link") {
			t.Fatalf("CORS request: %d %v", code, hdr)
		}
		// The HTML pages are not for other origins.
		if _, hdr, _ := send(t, in.client, "GET", in.base+"/oauth/authorize", http.Header{"Origin": {"https://elk.zone"}}, ""); hdr.Get("Access-Control-Allow-Origin") != "" {
			t.Fatal("CORS on /oauth/authorize")
		}
	})

	t.Run("LoginRateLimit", func(t *testing.T) {
		in.user("bob")
		c := browserClient(t)
		_, _, page := send(t, c, "GET", in.base+"/oauth/authorize?"+authQuery().Encode(), nil, "")
		var last int
		for range 11 {
			last, _ = signIn(t, c, in, page, "bob", "not bob's password")
		}
		if last != http.StatusTooManyRequests {
			t.Fatalf("11th failed sign-in: %d, want 429", last)
		}
		// The limit is the account's, whichever of its names is typed.
		if code, _ := signIn(t, c, in, page, "bob@example.test", "correct horse battery"); code != http.StatusTooManyRequests {
			t.Fatalf("sign-in while limited: %d, want 429", code)
		}
	})
}
