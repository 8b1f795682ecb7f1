package api

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/starling-social/starling"
	"github.com/starling-social/starling/activitypub"
	"github.com/starling-social/starling/federation"
	"github.com/starling-social/starling/sanitize"
)

// webfinger answers acct:user@host and actor-URL resources, as RFC 7033.
func (s *Server) webfinger(w http.ResponseWriter, r *http.Request) {
	resource := r.URL.Query().Get("resource")
	switch {
	case resource == "":
		writeError(w, http.StatusBadRequest, "resource is required")
		return
	case !sanitize.Valid(resource):
		// PostgreSQL refuses such text: answer before asking it.
		writeError(w, http.StatusBadRequest, "resource must be UTF-8 without NUL")
		return
	}
	// The instance actor is acct:HOST@HOST, as on Mastodon, or its actor
	// URL; the store's name for it (InstanceActorUsername) is no address,
	// since the subject answered would not be the one asked for.
	var username string
	switch {
	case resource == s.Site.InstanceActorURI():
		username = federation.InstanceActorUsername
	case strings.HasPrefix(resource, s.Site.Base()+"/users/"):
		username = strings.TrimPrefix(resource, s.Site.Base()+"/users/")
		if strings.EqualFold(username, federation.InstanceActorUsername) {
			username = ""
		}
	default:
		user, host := splitAcct(resource)
		switch {
		case !strings.EqualFold(host, s.Site.Host), strings.EqualFold(user, federation.InstanceActorUsername):
			// Not ours, or the store's name: no one.
		case strings.EqualFold(user, s.Site.Host):
			username = federation.InstanceActorUsername
		default:
			username = user
		}
	}
	if username == "" {
		writeError(w, http.StatusNotFound, "Record not found")
		return
	}
	a, err := s.Store.AccountByAcct(r.Context(), username, "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	aliases := []string{a.URI, a.URL}
	if a.Username == federation.InstanceActorUsername {
		aliases = []string{a.URI} // its URL is the about page, not a profile
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Content-Type", "application/jrd+json; charset=utf-8")
	writeJSONBody(w, map[string]any{
		"subject": s.Site.WebFingerSubject(a),
		"aliases": aliases,
		"links": []map[string]string{
			{"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": a.URL},
			{"rel": "self", "type": activitypub.ContentType, "href": a.URI},
		},
	})
}

func (s *Server) hostMeta(w http.ResponseWriter, r *http.Request) {
	type link struct {
		Rel      string `xml:"rel,attr"`
		Type     string `xml:"type,attr"`
		Template string `xml:"template,attr"`
	}
	doc := struct {
		XMLName xml.Name `xml:"http://docs.oasis-open.org/ns/xri/xrd-1.0 XRD"`
		Link    link
	}{Link: link{Rel: "lrdd", Type: "application/xrd+xml", Template: s.Site.Base() + "/.well-known/webfinger?resource={uri}"}}
	w.Header().Set("Content-Type", "application/xrd+xml; charset=utf-8")
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(doc)
}

func (s *Server) nodeinfoIndex(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"links": []map[string]string{{
		"rel":  "http://nodeinfo.diaspora.software/ns/schema/2.1",
		"href": s.Site.Base() + "/nodeinfo/2.1",
	}}})
}

func (s *Server) nodeinfo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", `application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.1#"`)
	writeJSONBody(w, map[string]any{
		"version":           "2.1",
		"software":          map[string]string{"name": "starling", "version": s.Version, "repository": "https://github.com/starling-social/starling"},
		"protocols":         []string{"activitypub"},
		"services":          map[string][]string{"inbound": {}, "outbound": {}},
		"openRegistrations": false,
		"usage":             map[string]any{"users": map[string]any{}},
		"metadata":          map[string]any{},
	})
}

// localAccount returns the local account named in the path, or writes 404.
func (s *Server) localAccount(w http.ResponseWriter, r *http.Request) (*starling.Account, bool) {
	username := chi.URLParam(r, "username")
	if !sanitize.Valid(username) {
		writeError(w, http.StatusBadRequest, "username must be UTF-8 without NUL")
		return nil, false
	}
	a, err := s.Store.AccountByAcct(r.Context(), username, "")
	if err == nil && a.Username == federation.InstanceActorUsername {
		err = starling.ErrNotFound
	}
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return a, true
}

func (s *Server) actor(w http.ResponseWriter, r *http.Request) {
	a, ok := s.localAccount(w, r)
	if !ok {
		return
	}
	writeActivity(w, s.Site.ActorDocument(a))
}

func (s *Server) instanceActor(w http.ResponseWriter, r *http.Request) {
	a, err := s.Store.AccountByAcct(r.Context(), federation.InstanceActorUsername, "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeActivity(w, s.Site.ActorDocument(a))
}

// ed25519Key serves a local actor's Ed25519 key as a document of its own:
// its id is the keyid of the actor's RFC 9421 Ed25519 signatures.
func (s *Server) ed25519Key(w http.ResponseWriter, r *http.Request) {
	a, ok := s.localAccount(w, r)
	if !ok {
		return
	}
	s.writeEd25519Key(w, r, a)
}

func (s *Server) instanceEd25519Key(w http.ResponseWriter, r *http.Request) {
	a, err := s.Store.AccountByAcct(r.Context(), federation.InstanceActorUsername, "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeEd25519Key(w, r, a)
}

func (s *Server) writeEd25519Key(w http.ResponseWriter, r *http.Request, a *starling.Account) {
	doc, err := s.Site.Ed25519KeyDocument(a)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeActivity(w, doc)
}

func (s *Server) outboxCollection(w http.ResponseWriter, r *http.Request) {
	a, ok := s.localAccount(w, r)
	if !ok {
		return
	}
	stats, err := s.Store.AccountStats(r.Context(), a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeActivity(w, s.Site.OutboxCollection(a, stats.Statuses))
}

func (s *Server) followers(w http.ResponseWriter, r *http.Request) { s.followCollection(w, r, true) }
func (s *Server) following(w http.ResponseWriter, r *http.Request) { s.followCollection(w, r, false) }

// followCollection lists up to the first 100 accepted followers or follows inline.
func (s *Server) followCollection(w http.ResponseWriter, r *http.Request, followers bool) {
	a, ok := s.localAccount(w, r)
	if !ok {
		return
	}
	stats, err := s.Store.AccountStats(r.Context(), a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	uris, err := s.Store.FollowCollection(r.Context(), a.ID, followers, 100)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	total := stats.Followers
	if !followers {
		total = stats.Following
	}
	writeActivity(w, s.Site.FollowCollection(a, followers, total, uris))
}

// statusObject dereferences a local public or unlisted status at its id.
func (s *Server) statusObject(w http.ResponseWriter, r *http.Request) {
	a, ok := s.localAccount(w, r)
	if !ok {
		return
	}
	n, ok := idParam(chi.URLParam(r, "id"))
	if !ok {
		writeError(w, http.StatusNotFound, "Record not found")
		return
	}
	st, err := s.Store.StatusByID(r.Context(), n)
	if err == nil && (st.AccountID != a.ID ||
		(st.Visibility != starling.VisibilityPublic && st.Visibility != starling.VisibilityUnlisted)) {
		err = starling.ErrNotFound
	}
	if errors.Is(err, starling.ErrNotFound) {
		writeError(w, http.StatusNotFound, "Record not found")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	note := s.Site.Note(st, a)
	note.Context = activitypub.DefaultContext()
	writeActivity(w, note)
}

// writeJSONBody writes v with the Content-Type already set by the caller.
func writeJSONBody(w http.ResponseWriter, v any) { _ = json.NewEncoder(w).Encode(v) }
