package api

import (
	"bytes"
	"html/template"
	"image"
	"image/color"
	"image/png"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/starling-social/starling"
)

// The pages a browser opens from a client ("open in browser", a link
// preview): a profile at /@user and a post at /@user/:id, small
// server-rendered HTML with OpenGraph tags and a link to the ActivityPub
// document. A request that asks for ActivityPub JSON gets the document
// itself, as on Mastodon.

type openGraph struct{ Type, Title, Description, URL, Image string }

type profileView struct {
	Username, Acct, DisplayName, Avatar string
	Note                                template.HTML
	Fields                              []fieldView
	Statuses, Following, Followers      int64
}

type fieldView struct {
	Name  string
	Value template.HTML
}

type postView struct {
	Content             template.HTML
	SpoilerText, URL    string
	CreatedAt, EditedAt string
	Images              []imageView
}

type imageView struct {
	URL, Full, Alt string
	Width, Height  int
}

// wantsActivityPub reports whether the request's Accept names an
// ActivityPub type before any HTML one.
func wantsActivityPub(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch {
		case mt == "application/activity+json",
			mt == "application/ld+json" && strings.Contains(params["profile"], "activitystreams"):
			return true
		case mt == "text/html":
			return false
		}
	}
	return false
}

// profilePage is /@{username}.
func (s *Server) profilePage(w http.ResponseWriter, r *http.Request) {
	if wantsActivityPub(r) {
		s.actor(w, r)
		return
	}
	a, ok := s.localPageAccount(w, r)
	if !ok {
		return
	}
	out := s.account(r.Context(), a)
	v := &profileView{Username: a.Username, Acct: a.Username + "@" + s.Site.Host, DisplayName: a.DisplayName,
		Avatar: out.Avatar, Note: template.HTML(a.Note), // sanitized on the way in, or made here
		Statuses: out.StatusesCount, Following: out.FollowingCount, Followers: out.FollowersCount}
	for _, f := range a.Fields {
		v.Fields = append(v.Fields, fieldView{Name: f.Name, Value: template.HTML(f.Value)})
	}
	s.renderPublic(w, "profile.html", page{Title: cmpName(a), Acct: v.Acct, Alternate: a.URI, Profile: v,
		OpenGraph: &openGraph{Type: "profile", Title: cmpName(a) + " (@" + v.Acct + ")",
			Description: plainNote(a.Note), URL: a.URL, Image: out.Avatar}})
}

// statusPage is /@{username}/{id}: a public or unlisted post of the account.
func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	if wantsActivityPub(r) {
		s.statusObject(w, r)
		return
	}
	a, ok := s.localPageAccount(w, r)
	if !ok {
		return
	}
	n, ok := idParam(chi.URLParam(r, "id"))
	st, err := s.Store.StatusByID(r.Context(), n)
	if !ok || err == nil && (st.AccountID != a.ID || !st.DeletedAt.IsZero() ||
		(st.Visibility != starling.VisibilityPublic && st.Visibility != starling.VisibilityUnlisted)) {
		err = starling.ErrNotFound
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	out := s.account(r.Context(), a)
	p := &postView{Content: template.HTML(st.Content), SpoilerText: st.SpoilerText, URL: st.URL,
		CreatedAt: st.CreatedAt.UTC().Format("2 Jan 2006 15:04 UTC")}
	if !st.EditedAt.IsZero() {
		p.EditedAt = st.EditedAt.UTC().Format("2 Jan 2006 15:04 UTC")
	}
	image := out.Avatar
	for _, m := range st.Attachments {
		if m.Type != "image" {
			continue
		}
		p.Images = append(p.Images, imageView{URL: m.PreviewURL, Full: m.URL, Alt: m.Description, Width: m.SmallWidth, Height: m.SmallHeight})
		if image == out.Avatar {
			image = m.URL // the picture is the preview, not the avatar
		}
	}
	desc := plainNote(st.Content)
	if st.SpoilerText != "" {
		desc = st.SpoilerText // what the author chose to show first
	}
	acct := a.Username + "@" + s.Site.Host
	s.renderPublic(w, "profile.html", page{Title: cmpName(a) + ": " + truncate(desc, 60), Acct: acct, Alternate: st.URI, Post: p,
		OpenGraph: &openGraph{Type: "article", Title: cmpName(a) + " (@" + acct + ")", Description: desc, URL: st.URL, Image: image}})
}

func cmpName(a *starling.Account) string {
	if a.DisplayName != "" {
		return a.DisplayName
	}
	return a.Username
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// localPageAccount is localAccount with its failures as pages.
func (s *Server) localPageAccount(w http.ResponseWriter, r *http.Request) (*starling.Account, bool) {
	a, err := s.Store.AccountByAcct(r.Context(), chi.URLParam(r, "username"), "")
	if err == nil && (a.Username == "" || a.URI == s.Site.InstanceActorURI()) {
		err = starling.ErrNotFound
	}
	if err != nil {
		s.pageError(w, r, err)
		return nil, false
	}
	return a, true
}

func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	if starling.ErrorCode(err) == starling.ENOTFOUND {
		s.renderError(w, http.StatusNotFound, "not_found", "The page you are looking for isn't here.")
		return
	}
	s.Logger.Error("public page", "path", r.URL.Path, "error", err)
	s.renderError(w, http.StatusInternalServerError, "internal", "Something went wrong on our side.")
}

// renderPublic renders a page anyone may see and cache for a minute; it
// may show images from anywhere (remote avatars, later).
func (s *Server) renderPublic(w http.ResponseWriter, name string, p page) {
	p.Host = s.Site.Host
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, p); err != nil {
		s.Logger.Error("render page", "page", name, "error", err)
		s.renderError(w, http.StatusInternalServerError, "internal", "Something went wrong on our side.")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=60")
	h.Set("Vary", "Accept")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; frame-ancestors 'none'")
	h.Set("Link", `<`+p.Alternate+`>; rel="alternate"; type="application/activity+json"`)
	_, _ = w.Write(buf.Bytes())
}

// The default avatar and header every account without pictures shows:
// Mastodon's paths, plain images that exist.
const (
	missingAvatarPath = "/avatars/original/missing.png"
	missingHeaderPath = "/headers/original/missing.png"
)

// Drawn once, on first use; constants in all but name.
var (
	defaultAvatar = solidPNG(400, 400, color.RGBA{R: 0xc8, G: 0xcc, B: 0xd8, A: 0xff})
	defaultHeader = solidPNG(1500, 500, color.RGBA{R: 0x2b, G: 0x3a, B: 0x67, A: 0xff})
)

func servePNG(b func() []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "public, max-age=604800")
		_, _ = w.Write(b())
	}
}

func solidPNG(w, h int, c color.RGBA) func() []byte {
	return sync.OnceValue(func() []byte {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				img.SetRGBA(x, y, c)
			}
		}
		var buf bytes.Buffer
		_ = png.Encode(&buf, img)
		return buf.Bytes()
	})
}
