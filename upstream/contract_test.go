package upstream

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/enneo-facade/facade/upstream/demo"
)

// TestContractRecord: GET /contract/{id} over real HTTP, against the demo upstream, decoded as
// the history's embedded copy is; the upstream's refusals are the history's errors.
func TestContractRecord(t *testing.T) {
	handler := demo.NewHandler()
	var paths []string
	c, calls := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.EscapedPath())
		r.URL.Path = strings.TrimPrefix(r.URL.Path, "/api/mind")
		handler.ServeHTTP(w, r)
	}, Options{Resilience: Resilience{Retries: -1}, Zone: mustZone("Europe/Berlin")})
	ctx := context.Background()
	record := func(id string) (*Contract, error) {
		body, err := c.ContractBody(ctx, "token", id)
		if err != nil {
			return nil, err
		}
		return c.DecodeContract(body, id)
	}

	// A contract without tickets: its history has no copy, the record has it all.
	h, err := c.History(ctx, "token", "100063")
	if err != nil || len(h.Tickets) != 0 {
		t.Fatalf("100063's history: %v, %d tickets; want none", err, len(h.Tickets))
	}
	k, err := record("100063")
	if err != nil {
		t.Fatal(err)
	}
	if k.ProductName == nil || *k.ProductName != "Gas Fix 24" || k.SignupDate == nil {
		t.Errorf("100063: %+v, want its product and signup date", k)
	}
	if paths[len(paths)-1] != "/api/mind/contract/100063" {
		t.Errorf("path %s", paths[len(paths)-1])
	}

	// The same record as the copy its history embeds, timestamps in the same zone.
	h, err = c.History(ctx, "token", demo.ExampleContractID)
	if err != nil {
		t.Fatal(err)
	}
	last := h.Tickets[len(h.Tickets)-1].Customer.Contracts[0]
	k, err = record(demo.ExampleContractID)
	if err != nil {
		t.Fatal(err)
	}
	if *k.ProductName != *last.ProductName || !k.SignupDate.Equal(last.SignupDate.Time) || *k.Iban != *last.Iban {
		t.Errorf("record %v %v differs from the embedded copy %v %v", *k.ProductName, *k.SignupDate, *last.ProductName, *last.SignupDate)
	}

	for id, want := range map[string]int{demo.NotFoundID: 404, demo.ForbiddenID: 403, demo.ServerErrorID: 500, demo.RateLimitedID: 429} {
		var se *StatusError
		if _, err := record(id); !errors.As(err, &se) || se.Status != want {
			t.Errorf("%s: %v, want status %d", id, err, want)
		}
	}
	for _, id := range []string{demo.MalformedID, demo.HTMLID} {
		if _, err := record(id); !errors.Is(err, ErrBadResponse) {
			t.Errorf("%s: %v, want ErrBadResponse", id, err)
		}
	}
	before := calls.Load()
	if _, err := record("../x"); !errors.Is(err, ErrInvalidID) || calls.Load() != before {
		t.Errorf("invalid id: %v after %d calls, want ErrInvalidID and none", err, calls.Load()-before)
	}
	if _, err := c.DecodeContract([]byte(`{"id":100064,"productName":"x"}`), "100063"); !errors.Is(err, ErrBadResponse) {
		t.Errorf("a record of another contract: %v, want ErrBadResponse", err)
	}
}
