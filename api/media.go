package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/media"
)

// MediaStore is what the media routes keep in the store.
type MediaStore interface {
	CreateMedia(ctx context.Context, m *starling.MediaAttachment) error
	FinishMedia(ctx context.Context, m *starling.MediaAttachment) error
	MediaByID(ctx context.Context, accountID, id int64) (*starling.MediaAttachment, error)
	DescribeMedia(ctx context.Context, accountID, id int64, description string, x, y float64) error
	DeleteMedia(ctx context.Context, ids []int64) error
}

// MediaFiles stores media files; *media.Files (local disk) and
// *media.S3 (an object store) are two.
type MediaFiles interface {
	Put(ctx context.Context, key string, data []byte) error
}

// localFiles are files this process can open, which it serves itself.
type localFiles interface {
	Path(key string) (string, error)
}

// Media is the upload side of the API: where files go and how many
// pictures are processed at once. Processing is CPU-bound (a 12-megapixel
// photo takes about a second of a core): it runs off the request path, at
// most Workers at a time, and at most Waiting more wait their turn;
// beyond that an upload is answered 503 with Retry-After.
type Media struct {
	Files   MediaFiles
	Workers int // default 2
	Waiting int // default 32

	slots   chan struct{}
	waiting chan struct{}
}

func (m *Media) init() {
	if m.slots == nil {
		m.slots = make(chan struct{}, max(m.Workers, 1))
		m.waiting = make(chan struct{}, max(m.Workers, 1)+max(m.Waiting, 1))
	}
}

// MediaAttachment is Mastodon's MediaAttachment entity.
type MediaAttachment struct {
	ID               string     `json:"id"`
	Type             string     `json:"type"`
	URL              *string    `json:"url"`
	PreviewURL       *string    `json:"preview_url"`
	RemoteURL        *string    `json:"remote_url"`
	PreviewRemoteURL *string    `json:"preview_remote_url"`
	TextURL          *string    `json:"text_url"`
	Meta             *mediaMeta `json:"meta"`
	Description      *string    `json:"description"`
	Blurhash         *string    `json:"blurhash"`
}

type mediaMeta struct {
	Original *media.Size `json:"original,omitempty"`
	Small    *media.Size `json:"small,omitempty"`
	Focus    *struct {
		X float64 `json:"x"`
		Y float64 `json:"y"`
	} `json:"focus,omitempty"`
}

func strp(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func sizeOf(w, h int) *media.Size {
	if w <= 0 || h <= 0 {
		return nil
	}
	return &media.Size{Width: w, Height: h, Size: fmt.Sprintf("%dx%d", w, h), Aspect: float64(w) / float64(h)}
}

// mediaEntity renders an attachment; a local upload's URLs come from its
// files (none while it is processed).
func (s *Server) mediaEntity(m *starling.MediaAttachment) *MediaAttachment {
	out := &MediaAttachment{ID: id(m.ID), Type: m.Type, URL: strp(m.URL), PreviewURL: strp(m.PreviewURL),
		RemoteURL: strp(m.RemoteURL), Description: strp(m.Description), Blurhash: strp(m.Blurhash),
		Meta: &mediaMeta{Original: sizeOf(m.Width, m.Height), Small: sizeOf(m.SmallWidth, m.SmallHeight)}}
	if m.FileKey != "" && m.URL == "" {
		out.URL, out.PreviewURL = strp(s.Site.MediaURL(m.FileKey)), strp(s.Site.MediaURL(m.SmallKey))
	} else if m.FileKey == "" && s.RemoteMedia != nil {
		// A remote picture, through the cache; remote_url keeps where it is.
		if out.RemoteURL == nil {
			out.RemoteURL = strp(m.URL)
		}
		out.URL, out.PreviewURL = strp(s.remoteMediaURL(m.URL)), strp(s.remoteMediaURL(cmp.Or(m.PreviewURL, m.URL)))
	}
	if m.FocusX != 0 || m.FocusY != 0 {
		out.Meta.Focus = &struct {
			X float64 `json:"x"`
			Y float64 `json:"y"`
		}{m.FocusX, m.FocusY}
	}
	return out
}

func (s *Server) mediaRoutes(r chi.Router) {
	r.Post("/v2/media", s.scoped("write:media", s.upload(true)))
	r.Post("/v1/media", s.scoped("write:media", s.upload(false)))
	r.Get("/v1/media/{id}", s.scoped("write:media", s.getMedia))
	r.Put("/v1/media/{id}", s.scoped("write:media", s.describeMedia))
}

// parseFocus reads Mastodon's focus parameter, "x,y" with each in -1…1.
func parseFocus(v string) (x, y float64, err error) {
	if v == "" {
		return 0, 0, nil
	}
	xs, ys, ok := strings.Cut(v, ",")
	if ok {
		x, err = strconv.ParseFloat(strings.TrimSpace(xs), 64)
	}
	if ok && err == nil {
		y, err = strconv.ParseFloat(strings.TrimSpace(ys), 64)
	}
	if !ok || err != nil || x < -1 || x > 1 || y < -1 || y > 1 {
		return 0, 0, errors.New("Validation failed: focus must be two numbers from -1 to 1, as x,y")
	}
	return x, y, nil
}

// maxDescription is Mastodon's limit on a media description.
const maxDescription = 1500

// upload is POST /api/v2/media (async: 202 while processing) and
// /api/v1/media (answers when processed).
func (s *Server) upload(async bool) func(http.ResponseWriter, *http.Request, *starling.Account) {
	return func(w http.ResponseWriter, r *http.Request, me *starling.Account) {
		if s.Media == nil || s.Media.Files == nil {
			writeError(w, http.StatusServiceUnavailable, "Media uploads are not configured")
			return
		}
		s.Media.init()
		r.Body = http.MaxBytesReader(w, r.Body, media.MaxImageBytes+1<<20)
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeError(w, http.StatusRequestEntityTooLarge, media.ErrTooLarge.Message)
				return
			}
			writeError(w, http.StatusUnprocessableEntity, "Validation failed: send the file as multipart/form-data")
			return
		}
		defer r.MultipartForm.RemoveAll()
		file, _, err := r.FormFile("file")
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, "Validation failed: File can't be blank")
			return
		}
		defer file.Close()
		data, err := media.ReadAll(file)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		description := r.FormValue("description")
		if !validText(description) || len([]rune(description)) > maxDescription {
			writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("Validation failed: Description is too long (maximum is %d characters) or not text", maxDescription))
			return
		}
		fx, fy, err := parseFocus(r.FormValue("focus"))
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, err.Error())
			return
		}
		mt, err := media.Check(data)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		select {
		case s.Media.waiting <- struct{}{}:
		default:
			w.Header().Set("Retry-After", "5")
			writeError(w, http.StatusServiceUnavailable, "Too many uploads are being processed; try again shortly")
			return
		}
		m := &starling.MediaAttachment{ID: starling.NewID(time.Now()), AccountID: me.ID, Type: "image",
			State: starling.MediaProcessing, MIME: mt, Description: description, FocusX: fx, FocusY: fy}
		if err := s.Store.CreateMedia(r.Context(), m); err != nil {
			<-s.Media.waiting
			s.fail(w, r, err)
			return
		}
		done := make(chan error, 1)
		// Off the request: the client may go, the picture is still made.
		go func() {
			defer func() { <-s.Media.waiting }()
			s.Media.slots <- struct{}{}
			defer func() { <-s.Media.slots }()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*time.Minute)
			defer cancel()
			done <- s.processMedia(ctx, m, data)
		}()
		// Small pictures are ready at once; a client gets them whole, as
		// Mastodon answers 200 when processing is quick.
		wait := 2 * time.Second
		if !async {
			wait = 2 * time.Minute
		}
		select {
		case err := <-done:
			if err != nil {
				// Refused while the client waits: nothing is kept.
				if derr := s.Store.DeleteMedia(r.Context(), []int64{m.ID}); derr != nil {
					s.Logger.Warn("delete refused upload", "media_id", m.ID, "error", derr)
				}
				s.fail(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, s.mediaEntity(m))
		case <-time.After(wait):
			writeJSON(w, http.StatusAccepted, s.mediaEntity(m))
		}
	}
}

// processMedia makes the files of upload m and records the outcome.
func (s *Server) processMedia(ctx context.Context, m *starling.MediaAttachment, data []byte) error {
	p, err := media.Process(data)
	if err == nil {
		base := "media/" + strconv.FormatInt(m.ID, 10)
		m.FileKey, m.SmallKey = base+"/original"+p.Ext, base+"/small"+p.Ext
		if err = s.Media.Files.Put(ctx, m.FileKey, p.Original); err == nil {
			err = s.Media.Files.Put(ctx, m.SmallKey, p.Small)
		}
		if err == nil {
			m.MIME, m.Blurhash = p.MIME, p.Blurhash
			m.Width, m.Height = p.Meta.Original.Width, p.Meta.Original.Height
			m.SmallWidth, m.SmallHeight = p.Meta.Small.Width, p.Meta.Small.Height
			m.State = starling.MediaReady
		}
	}
	if err != nil {
		m.State, m.FileKey, m.SmallKey = starling.MediaFailed, "", ""
	}
	if ferr := s.Store.FinishMedia(ctx, m); ferr != nil && err == nil {
		err = ferr
	}
	return err
}

// getMedia is GET /api/v1/media/:id: 206 while processing, 200 when
// ready, 422 when processing failed.
func (s *Server) getMedia(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	n, ok := idParam(chi.URLParam(r, "id"))
	if !ok || n == 0 {
		writeError(w, http.StatusNotFound, "Record not found")
		return
	}
	m, err := s.Store.MediaByID(r.Context(), me.ID, n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	switch m.State {
	case starling.MediaProcessing:
		writeJSON(w, http.StatusPartialContent, s.mediaEntity(m))
	case starling.MediaFailed:
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: File could not be processed")
	default:
		writeJSON(w, http.StatusOK, s.mediaEntity(m))
	}
}

// describeMedia is PUT /api/v1/media/:id: description and focus.
func (s *Server) describeMedia(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	n, ok := idParam(chi.URLParam(r, "id"))
	if !ok || n == 0 {
		writeError(w, http.StatusNotFound, "Record not found")
		return
	}
	v, err := params(r)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: "+err.Error())
		return
	}
	m, err := s.Store.MediaByID(r.Context(), me.ID, n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, ok := v["description"]; ok {
		m.Description = v.Get("description")
	}
	if len([]rune(m.Description)) > maxDescription {
		writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("Validation failed: Description is too long (maximum is %d characters)", maxDescription))
		return
	}
	if f := v.Get("focus"); f != "" {
		if m.FocusX, m.FocusY, err = parseFocus(f); err != nil {
			writeError(w, http.StatusUnprocessableEntity, err.Error())
			return
		}
	}
	if err := s.Store.DescribeMedia(r.Context(), me.ID, n, m.Description, m.FocusX, m.FocusY); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.mediaEntity(m))
}

// serveMedia serves /system/<key>: the media files, immutable once
// written (a new picture gets a new key).
func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request) {
	if s.Media == nil || s.Media.Files == nil {
		http.NotFound(w, r)
		return
	}
	s.serveFile(w, r, strings.TrimPrefix(r.URL.Path, "/system/"))
}

// serveFile serves the media store's file key: from disk, or by a
// redirect to the object store.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, key string) {
	local, ok := s.Media.Files.(localFiles)
	if !ok {
		// Files live in an object store: send the client there (a link
		// handed out before the move still works).
		if u := s.Site.MediaURL(key); !strings.HasPrefix(u, s.Site.Base()+"/system/") {
			http.Redirect(w, r, u, http.StatusMovedPermanently)
			return
		}
		http.NotFound(w, r)
		return
	}
	p, err := local.Path(key)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(p)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	if ct := mime.TypeByExtension(path.Ext(key)); ct != "" {
		h.Set("Content-Type", ct)
	}
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Access-Control-Allow-Origin", "*")
	http.ServeContent(w, r, "", st.ModTime(), f)
}
