package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/starling-social/starling"
)

type authKey struct{}

type auth struct {
	account *starling.Account
	scopes  []string
}

// authenticate resolves a bearer token, if one was sent, to its account.
// Endpoints decide with scoped whether they need one.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return s.authenticateWith(s.lookupToken, next)
}

// authenticateWith is authenticate with the token looked up by lookup.
func (s *Server) authenticateWith(lookup func(ctx context.Context, sum [32]byte) (*auth, error), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := bearerToken(r)
		if token == "" {
			next.ServeHTTP(w, r)
			return
		}
		a, err := lookup(r.Context(), sha256.Sum256([]byte(token)))
		if errors.Is(err, starling.ErrNotFound) {
			writeError(w, http.StatusUnauthorized, "The access token is invalid")
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), authKey{}, a)))
	})
}

// lookupToken reads a token's account and scopes from the store. The
// account is nil for an application's own token.
func (s *Server) lookupToken(ctx context.Context, sum [32]byte) (*auth, error) {
	a, scopes, err := s.Store.AccountByToken(ctx, sum[:])
	if errors.Is(err, starling.ErrNotFound) {
		// A client_credentials token: an app, no account (oauth.go).
		scopes, err = s.Store.AppTokenScopes(ctx, sum[:])
	}
	if err != nil {
		return nil, err
	}
	return &auth{account: a, scopes: strings.Fields(scopes)}, nil
}

// bearerToken returns the token of an Authorization: Bearer header, or of
// the access_token parameter (which browsers' EventSource needs), or "".
func bearerToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return r.URL.Query().Get("access_token")
}

// scoped requires a token granting scope (e.g. "write:statuses"), which
// the broad scopes "read", "write" and the legacy "follow" cover as on Mastodon.
func (s *Server) scoped(scope string, h func(http.ResponseWriter, *http.Request, *starling.Account)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, _ := r.Context().Value(authKey{}).(*auth)
		if a == nil {
			writeError(w, http.StatusUnauthorized, "The access token is invalid")
			return
		}
		if !hasScope(a.scopes, scope) {
			writeError(w, http.StatusForbidden, "This action is outside the authorized scopes")
			return
		}
		if a.account == nil {
			writeError(w, http.StatusUnprocessableEntity, "This method requires an authenticated user")
			return
		}
		if strings.HasPrefix(scope, "admin:") && s.Roles != nil {
			// The scope says what the app may do; the role whether its
			// user may do it at all.
			admin, err := s.Roles.IsAdmin(r.Context(), a.account.ID)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			if !admin {
				writeError(w, http.StatusForbidden, "This action is not allowed")
				return
			}
		}
		h(w, r, a.account)
	}
}

func hasScope(granted []string, want string) bool {
	top := want[:max(strings.LastIndexByte(want, ':'), 0)] // read:statuses → read, admin:read:accounts → admin:read
	for _, g := range granted {
		switch {
		case g == want, g == top:
			return true
		case want == "profile" && (g == "read" || g == "read:accounts"): // verify_credentials, as Mastodon 4.4
			return true
		case g == "follow" && (want == "read:follows" || want == "write:follows" ||
			want == "read:blocks" || want == "write:blocks" || want == "read:mutes" || want == "write:mutes"):
			return true
		}
	}
	return false
}

// NewToken returns a random bearer token and the SHA-256 the store keeps.
// Only the hash is stored, so a leaked database leaks no usable tokens.
func NewToken() (token string, sum []byte, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	token = base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(token))
	return token, h[:], nil
}
