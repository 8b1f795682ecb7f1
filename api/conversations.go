package api

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/starling-social/starling"
)

// ConversationStore is what the direct-message routes read and change.
type ConversationStore interface {
	Conversations(ctx context.Context, accountID int64, p starling.Page) ([]starling.Conversation, error)
	ConversationByID(ctx context.Context, accountID, id int64) (starling.Conversation, error)
	MarkConversationRead(ctx context.Context, accountID, id int64) error
	RemoveConversation(ctx context.Context, accountID, id int64) error
	DirectTimeline(ctx context.Context, accountID int64, p starling.Page) ([]*starling.Item, error)
}

// Conversation is Mastodon's Conversation entity.
type Conversation struct {
	ID         string     `json:"id"`
	Unread     bool       `json:"unread"`
	Accounts   []*Account `json:"accounts"`
	LastStatus *Status    `json:"last_status"`
}

func (s *Server) conversationRoutes(r chi.Router) {
	r.Get("/v1/conversations", s.scoped("read:statuses", s.conversations))
	r.Post("/v1/conversations/{id}/read", s.scoped("write:conversations", s.readConversation))
	r.Delete("/v1/conversations/{id}", s.scoped("write:conversations", s.removeConversation))
	r.Get("/v1/timelines/direct", s.scoped("read:statuses", func(w http.ResponseWriter, r *http.Request, me *starling.Account) {
		s.timelinePage(w, r, func(ctx context.Context, p starling.Page) ([]*starling.Item, error) {
			return s.Store.DirectTimeline(ctx, me.ID, p)
		})
	}))
}

// conversations is GET /api/v1/conversations: the most recently active
// first, paged by their last status as Mastodon does.
func (s *Server) conversations(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	list, ok := readPage(s, w, r, func(ctx context.Context, p starling.Page) ([]starling.Conversation, error) {
		return s.Store.Conversations(ctx, me.ID, p)
	})
	if !ok {
		return
	}
	out := make([]*Conversation, 0, len(list))
	for _, c := range list {
		if rendered := s.conversation(r.Context(), me, c); rendered != nil {
			out = append(out, rendered)
		}
	}
	if len(list) > 0 {
		setLink(w, s.Site.Base()+r.URL.Path, r.URL.Query(), list[len(list)-1].LastStatusID, list[0].LastStatusID)
	}
	writeJSONOnce(w, out)
}

// conversation renders c for me; nil when its last status went away
// meanwhile.
func (s *Server) conversation(ctx context.Context, me *starling.Account, c starling.Conversation) *Conversation {
	it, err := s.Store.ItemByID(ctx, me.ID, c.LastStatusID)
	if err != nil {
		return nil
	}
	last := s.item(ctx, it)
	s.markViewer(ctx, me, last)
	out := &Conversation{ID: id(c.ID), Unread: c.Unread, Accounts: make([]*Account, 0, len(c.Participants)), LastStatus: last}
	for _, p := range c.Participants {
		if a, err := s.Store.AccountByID(ctx, p); err == nil {
			out.Accounts = append(out.Accounts, s.account(ctx, a))
		}
	}
	return out
}

func conversationParam(r *http.Request) (int64, error) {
	n, ok := idParam(chi.URLParam(r, "id"))
	if !ok || n == 0 {
		return 0, starling.ErrNotFound
	}
	return n, nil
}

// readConversation is POST /api/v1/conversations/:id/read.
func (s *Server) readConversation(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	n, err := conversationParam(r)
	if err == nil {
		err = s.Store.MarkConversationRead(r.Context(), me.ID, n)
	}
	var c starling.Conversation
	if err == nil {
		c, err = s.Store.ConversationByID(r.Context(), me.ID, n)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := s.conversation(r.Context(), me, c)
	if out == nil {
		s.fail(w, r, starling.ErrNotFound)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// removeConversation is DELETE /api/v1/conversations/:id: gone from the
// list until a new direct status brings it back.
func (s *Server) removeConversation(w http.ResponseWriter, r *http.Request, me *starling.Account) {
	n, err := conversationParam(r)
	if err == nil {
		err = s.Store.RemoveConversation(r.Context(), me.ID, n)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}
