package starling

import "time"

// ErrCodeUsed is returned when an authorization code is exchanged a second
// time. The tokens the first exchange issued are revoked by then.
var ErrCodeUsed = Errorf(EINVALID, "authorization code already used")

// OAuthApplication is a client registered with POST /api/v1/apps.
type OAuthApplication struct {
	ID                 int64
	Name               string
	Website            string
	RedirectURIs       []string
	Scopes             string // space-separated
	ClientID           string
	ClientSecretSHA256 []byte
	CreatedAt          time.Time
}

// OAuthCode is an authorization code, known by its SHA-256.
type OAuthCode struct {
	CodeSHA256          []byte
	ApplicationID       int64
	AccountID           int64
	RedirectURI         string
	Scopes              string
	CodeChallenge       string
	CodeChallengeMethod string
	ExpiresAt           time.Time
}
