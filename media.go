package starling

import "time"

// Media attachment states: an upload is processed off the request path.
const (
	MediaProcessing = "processing"
	MediaReady      = "ready"
	MediaFailed     = "failed"
)

// MediaAttachment is a picture of a status, or an upload waiting to be
// attached to one. A local one has files in the media store (FileKey,
// SmallKey); a remote one is shown by its RemoteURL. A status keeps
// copies of its attachments (as JSON), so reading a timeline needs no
// join; the media_attachments rows own the files.
type MediaAttachment struct {
	ID          int64   `json:"id,string"`
	AccountID   int64   `json:"-"`
	StatusID    int64   `json:"-"`
	Type        string  `json:"type"` // image, gifv, video, audio or unknown, as Mastodon names them
	URL         string  `json:"url"`
	PreviewURL  string  `json:"preview_url"`
	RemoteURL   string  `json:"remote_url,omitempty"`
	Description string  `json:"description,omitempty"`
	Blurhash    string  `json:"blurhash,omitempty"`
	MIME        string  `json:"mime,omitempty"`
	Width       int     `json:"width,omitempty"`
	Height      int     `json:"height,omitempty"`
	SmallWidth  int     `json:"small_width,omitempty"`
	SmallHeight int     `json:"small_height,omitempty"`
	FocusX      float64 `json:"focus_x,omitempty"` // -1…1, Mastodon's focal point
	FocusY      float64 `json:"focus_y,omitempty"`

	State     string    `json:"-"`
	FileKey   string    `json:"-"` // in the media store; empty for remote media
	SmallKey  string    `json:"-"`
	CreatedAt time.Time `json:"-"`
}

// RemoteMedia is a remote picture fetched through this server and kept in
// the media store for a while (--remote-media-days): clients then load it
// from here, so remote servers do not see every reader's address, and a
// remote server's outage does not blank its pictures.
type RemoteMedia struct {
	Hash      string // hex SHA-256 of URL
	FileKey   string // in the media store
	URL       string
	Host      string
	Size      int64
	FetchedAt time.Time
}
