package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/enneo-facade/facade/graph"
	"github.com/enneo-facade/facade/upstream"
)

// enneoWebhook drops a contract's cached history for every scope when Enneo reports a change:
// an Enneo event handler (TicketCreated, TicketUpdated, ...) POSTs {event, contractId, ticketId}
// with Authorization: Bearer <WEBHOOK_SECRET>. It answers as soon as the entries are gone.
func enneoWebhook(secret string, inv graph.Invalidator, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if subtle.ConstantTimeCompare([]byte(auth), []byte("Bearer "+secret)) != 1 {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "send Authorization: Bearer <WEBHOOK_SECRET>"})
			return
		}
		var ev struct {
			Event      string      `json:"event"`
			ContractID upstream.ID `json:"contractId"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&ev); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the body must be JSON: {\"event\", \"contractId\", \"ticketId\"}"})
			return
		}
		id := string(ev.ContractID)
		if !upstream.ValidID(id) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "contractId must be 1 to 64 letters, digits, '-' or '_'"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := inv.Invalidate(ctx, id); err != nil {
			// Tell Enneo to try again: other replicas may still hold the entry.
			log.WarnContext(ctx, "webhook: the shared cache could not be reached", "contract", id, "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the shared cache could not be reached; retry"})
			return
		}
		log.InfoContext(ctx, "webhook: history invalidated", "event", ev.Event, "contract", id)
		writeJSON(w, http.StatusOK, map[string]string{"invalidated": id})
	})
}
