package api

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/federation"
	"github.com/starling-social/starling/signature"
)

// AdminStore is what admin operations need of the store.
type AdminStore interface {
	AccountByAcct(ctx context.Context, username, domain string) (*starling.Account, error)
	CreateLocalAccount(ctx context.Context, a *starling.Account, email, passwordHash string) error
	CreateAccessToken(ctx context.Context, tokenSHA256 []byte, accountID int64, scopes string) error
	LocalAccountsWithoutEd25519Key(ctx context.Context) ([]*starling.Account, error)
	SetEd25519Key(ctx context.Context, accountID int64, keyID, publicKey, privatePEM string) error
	SetAdmin(ctx context.Context, accountID int64, admin bool) error
}

// Admin performs what `starling admin` asks for.
type Admin struct {
	Store AdminStore
	Site  federation.Site
}

// ValidationError names what is wrong with an admin request; the CLI prints it as is.
type ValidationError struct{ Msg string }

func (e *ValidationError) Error() string { return e.Msg }

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9_]{1,30}$`)

// CreateAccount creates a local account with an RSA-2048 key pair and an
// Ed25519 one.
func (ad *Admin) CreateAccount(ctx context.Context, username, email, password string) (*starling.Account, error) {
	switch {
	case !usernamePattern.MatchString(username):
		return nil, &ValidationError{"username must be 1 to 30 letters, digits or underscores"}
	case email == "":
		return nil, &ValidationError{"email is required"}
	case len(password) < 8:
		return nil, &ValidationError{"password must be at least 8 characters"}
	case len(password) > 72:
		return nil, &ValidationError{"password must be at most 72 bytes"} // bcrypt's limit
	}
	if _, err := mail.ParseAddress(email); err != nil {
		return nil, &ValidationError{fmt.Sprintf("email %q is not an address", email)}
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	pub, priv, err := signature.GenerateKey()
	if err != nil {
		return nil, err
	}
	a := ad.Site.NewLocalAccount(username, pub, priv)
	if err := addEd25519Key(a); err != nil {
		return nil, err
	}
	if err := ad.Store.CreateLocalAccount(ctx, a, email, string(hash)); err != nil {
		if errors.Is(err, starling.ErrConflict) {
			return nil, &ValidationError{fmt.Sprintf("username %q or email %q is already taken", username, email)}
		}
		return nil, err
	}
	return a, nil
}

// EnsureInstanceActor creates the server's own actor, which signs fetches,
// if it does not exist yet. Its address is where the database records the
// scheme and domain it was first used with: a *ValidationError when the
// Site is another one, since every account would be minted (and every URL
// handed out) with an address the rest of the fediverse does not know.
func (ad *Admin) EnsureInstanceActor(ctx context.Context) error {
	a, err := ad.Store.AccountByAcct(ctx, federation.InstanceActorUsername, "")
	if err == nil {
		if want := ad.Site.InstanceActorURI(); a.URI != want {
			scheme, host, _ := strings.Cut(strings.TrimSuffix(a.URI, "/actor"), "://")
			return &ValidationError{fmt.Sprintf("this database belongs to %s://%s, not %s: run with --protocol %s --domain %s, or use another database",
				scheme, host, ad.Site.Base(), scheme, host)}
		}
		return nil
	}
	if !errors.Is(err, starling.ErrNotFound) {
		return err
	}
	pub, priv, err := signature.GenerateKey()
	if err != nil {
		return err
	}
	a = ad.Site.NewLocalAccount(federation.InstanceActorUsername, pub, priv)
	if err := addEd25519Key(a); err != nil {
		return err
	}
	err = ad.Store.CreateLocalAccount(ctx, a, "", "")
	if errors.Is(err, starling.ErrConflict) {
		return nil // another process made it first
	}
	return err
}

// addEd25519Key gives a new local account an Ed25519 key pair.
func addEd25519Key(a *starling.Account) error {
	pub, priv, err := signature.GenerateEd25519Key()
	if err != nil {
		return err
	}
	a.Ed25519KeyID, a.Ed25519PublicKey, a.Ed25519PrivateKeyPEM = federation.Ed25519KeyID(a.URI), pub, priv
	return nil
}

// EnsureEd25519Keys gives every local account that has no Ed25519 key
// one (accounts made before migration 00080), and returns how many it
// gave. Keys cannot be made in SQL, so serve calls it at startup; two
// processes doing it at once keep the first key stored.
func (ad *Admin) EnsureEd25519Keys(ctx context.Context) (int, error) {
	accounts, err := ad.Store.LocalAccountsWithoutEd25519Key(ctx)
	if err != nil {
		return 0, err
	}
	for i, a := range accounts {
		if err := addEd25519Key(a); err != nil {
			return i, err
		}
		if err := ad.Store.SetEd25519Key(ctx, a.ID, a.Ed25519KeyID, a.Ed25519PublicKey, a.Ed25519PrivateKeyPEM); err != nil {
			return i, err
		}
	}
	return len(accounts), nil
}

// SetRole gives (or takes) the admin role of a local account: only
// admins' tokens may use admin:* scopes.
func (ad *Admin) SetRole(ctx context.Context, username string, admin bool) error {
	a, err := ad.Store.AccountByAcct(ctx, username, "")
	if errors.Is(err, starling.ErrNotFound) || (err == nil && a.Username == federation.InstanceActorUsername) {
		return &ValidationError{fmt.Sprintf("no local account %q", username)}
	}
	if err != nil {
		return err
	}
	if err := ad.Store.SetAdmin(ctx, a.ID, admin); err != nil {
		if errors.Is(err, starling.ErrNotFound) {
			return &ValidationError{fmt.Sprintf("%q has no login to give a role to", username)}
		}
		return err
	}
	return nil
}

// knownScopes are the Mastodon scopes a token may carry.
var knownScopes = regexp.MustCompile(`^(read|write|follow|push|profile|admin:(read|write)(:[a-z_]+)?|(read|write):[a-z_]+)$`)

// CreateToken issues a bearer token for username with the given scopes
// (space-separated) and returns it. Only its hash is stored.
func (ad *Admin) CreateToken(ctx context.Context, username, scopes string) (string, error) {
	fields := strings.Fields(scopes)
	if len(fields) == 0 {
		return "", &ValidationError{"scopes are required, e.g. \"read write follow push\""}
	}
	for _, sc := range fields {
		if !knownScopes.MatchString(sc) {
			return "", &ValidationError{fmt.Sprintf("unknown scope %q", sc)}
		}
	}
	a, err := ad.Store.AccountByAcct(ctx, username, "")
	if errors.Is(err, starling.ErrNotFound) || (err == nil && a.Username == federation.InstanceActorUsername) {
		return "", &ValidationError{fmt.Sprintf("no local account %q", username)}
	}
	if err != nil {
		return "", err
	}
	token, sum, err := NewToken()
	if err != nil {
		return "", fmt.Errorf("create token: %w", err)
	}
	if err := ad.Store.CreateAccessToken(ctx, sum, a.ID, strings.Join(fields, " ")); err != nil {
		return "", err
	}
	return token, nil
}
