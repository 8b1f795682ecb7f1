package api

import (
	"bytes"
	"cmp"
	"context"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strings"
	"sync"

	"github.com/starling-social/starling"
)

// InstanceStore counts what the instance endpoints report.
type InstanceStore interface {
	// InstanceStats counts local users, local statuses, known domains and
	// the local users who posted in the last 30 days.
	InstanceStats(ctx context.Context) (starling.InstanceStats, error)
}

// Limits Starling enforces or advertises, as Mastodon's defaults.
const (
	maxStatusCharacters      = 500
	maxMediaAttachments      = 4
	charactersReservedPerURL = 23
	maxPinnedStatuses        = 5
	sourceURL                = "https://github.com/starling-social/starling"
	thumbnailPath            = "/instance/thumbnail.png"
)

func (s *Server) versionString() string {
	v := s.Version
	if v == "" {
		v = "dev"
	}
	return "4.3.0 (compatible; Starling " + v + ")"
}

// streamingURL is the ws(s) origin clients open streaming sockets on.
func (s *Server) streamingURL() string {
	base := s.Site.Base()
	switch {
	case strings.HasPrefix(base, "https://"):
		return "wss://" + strings.TrimPrefix(base, "https://")
	case strings.HasPrefix(base, "http://"):
		return "ws://" + strings.TrimPrefix(base, "http://")
	}
	return base
}

func (s *Server) instanceStats(ctx context.Context) starling.InstanceStats {
	st, err := s.Store.InstanceStats(ctx)
	if err != nil {
		s.Logger.Warn("instance stats", "error", err)
	}
	return st
}

var (
	supportedMIMETypes = []string{"image/jpeg", "image/png", "image/gif", "image/webp"}
	mediaLimits        = map[string]any{
		"supported_mime_types":   supportedMIMETypes,
		"description_limit":      1500,
		"image_size_limit":       16777216,
		"image_matrix_limit":     33177600,
		"video_size_limit":       103809024,
		"video_frame_rate_limit": 120,
		"video_matrix_limit":     8294400,
	}
	pollLimits = map[string]any{
		"max_options":               4,
		"max_characters_per_option": 50,
		"min_expiration":            300,
		"max_expiration":            2629746,
	}
	statusLimits = map[string]any{
		"max_characters":              maxStatusCharacters,
		"max_media_attachments":       maxMediaAttachments,
		"characters_reserved_per_url": charactersReservedPerURL,
	}
)

// instanceV2 is Mastodon's GET /api/v2/instance (the Instance entity).
func (s *Server) instanceV2(w http.ResponseWriter, r *http.Request) {
	stats := s.instanceStats(r.Context())
	base := s.Site.Base()
	thumb := base + thumbnailPath
	writeJSON(w, http.StatusOK, map[string]any{
		"domain":       s.Site.Host,
		"title":        "Starling",
		"version":      s.versionString(),
		"source_url":   sourceURL,
		"description":  "A Starling server, part of the fediverse.",
		"usage":        map[string]any{"users": map[string]any{"active_month": stats.ActiveMonth}},
		"thumbnail":    map[string]any{"url": thumb, "blurhash": nil, "versions": map[string]any{"@1x": thumb, "@2x": thumb}},
		"icon":         []map[string]string{{"src": thumb, "size": "64x64"}},
		"languages":    []string{"en"},
		"api_versions": map[string]int{"mastodon": 2},
		"configuration": map[string]any{
			"urls": map[string]any{"streaming": s.streamingURL(), "status": nil, "about": base + "/about",
				"privacy_policy": nil, "terms_of_service": nil},
			"vapid":             map[string]string{"public_key": ""},
			"accounts":          map[string]any{"max_featured_tags": 10, "max_pinned_statuses": maxPinnedStatuses, "max_profile_fields": 4},
			"statuses":          statusLimits,
			"media_attachments": mediaLimits,
			"polls":             pollLimits,
			"translation":       map[string]bool{"enabled": false},
		},
		"registrations": map[string]any{"enabled": false, "approval_required": false, "message": nil, "url": nil},
		"contact":       map[string]any{"email": "", "account": nil},
		"rules":         []any{},
	})
}

// instanceV1 is Mastodon's GET /api/v1/instance (V1::Instance).
func (s *Server) instanceV1(w http.ResponseWriter, r *http.Request) {
	stats := s.instanceStats(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{
		"uri":               s.Site.Host,
		"title":             "Starling",
		"short_description": "A Starling server, part of the fediverse.",
		"description":       "A Starling server, part of the fediverse.",
		"email":             "",
		"version":           s.versionString(),
		"urls":              map[string]string{"streaming_api": s.streamingURL()},
		"stats":             map[string]int64{"user_count": stats.Users, "status_count": stats.Statuses, "domain_count": stats.Domains},
		"thumbnail":         s.Site.Base() + thumbnailPath,
		"languages":         []string{"en"},
		"registrations":     false,
		"approval_required": false,
		"invites_enabled":   false,
		"configuration": map[string]any{
			"accounts":          map[string]any{"max_featured_tags": 10},
			"statuses":          statusLimits,
			"media_attachments": mediaLimits,
			"polls":             pollLimits,
		},
		"contact_account": nil,
		"rules":           []any{},
	})
}

// thumbnail serves the default instance image: a 64×64 square in
// Starling's colour, made once.
func (s *Server) thumbnail(w http.ResponseWriter, r *http.Request) {
	b := defaultThumbnail()
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	_, _ = w.Write(b)
}

var defaultThumbnail = sync.OnceValue(func() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{R: 0x2b, G: 0x3a, B: 0x67, A: 0xff})
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
})

// Preferences is Mastodon's Preferences entity.
func (s *Server) preferences(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	prefs, err := s.Store.Preferences(r.Context(), me.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var lang *string
	if prefs.Language != "" {
		lang = &prefs.Language
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"posting:default:visibility": cmp.Or(prefs.Privacy, starling.VisibilityPublic),
		"posting:default:sensitive":  prefs.Sensitive,
		"posting:default:language":   lang,
		"reading:expand:media":       "default",
		"reading:expand:spoilers":    false,
	})
}

func (s *Server) customEmojis(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, []any{})
}
