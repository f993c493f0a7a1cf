// Command bare is the load benchmark's practical limit for an executed answer: gqlgen's
// executor over the facade's schema and generated code, with resolvers that answer from
// histories held in memory (each fetched once from -upstream, decoded by the facade's client),
// and nothing else: no field middleware, no extension, no limits, no response cache, no loaders,
// no logs. It is a baseline to measure the facade against, not a second executor: what the
// facade adds to gqlgen is the difference.
//
//	go -C bench run ./bare -addr 127.0.0.1:9102 -upstream http://127.0.0.1:9101
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/enneo-facade/facade/graph"
	"github.com/enneo-facade/facade/graph/model"
	"github.com/enneo-facade/facade/upstream"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9102", "listen address")
	base := flag.String("upstream", "http://127.0.0.1:9101", "the stub, whose histories are held in memory")
	token := flag.String("token", "bench-token", "token the histories are fetched with")
	flag.Parse()
	client, err := upstream.New(upstream.Options{BaseURL: *base})
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal((&http.Server{Addr: *addr, Handler: newHandler(client, *token), ReadHeaderTimeout: 5 * time.Second}).ListenAndServe())
}

// newHandler serves /graphql, gqlgen's stock server over histories client fetches once each,
// and /healthz.
func newHandler(client *upstream.Client, token string) http.Handler {
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &resolver{client: client, token: token}}))
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000)) // gqlgen's documented setup
	mux := http.NewServeMux()
	mux.Handle("/graphql", srv)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	return mux
}

// resolver is graph.ResolverRoot over histories in memory.
type resolver struct {
	client    *upstream.Client
	token     string
	histories sync.Map // contract id -> *upstream.History
}

func (r *resolver) history(ctx context.Context, id string) (*upstream.History, error) {
	if h, ok := r.histories.Load(id); ok {
		return h.(*upstream.History), nil
	}
	h, err := r.client.History(ctx, r.token, id)
	if err != nil {
		return nil, err
	}
	r.histories.Store(id, h)
	return h, nil
}

func (r *resolver) Contract() graph.ContractResolver { return (*contractResolver)(r) }
func (r *resolver) Intent() graph.IntentResolver     { return intentResolver{} }
func (r *resolver) Mutation() graph.MutationResolver { return mutationResolver{} }
func (r *resolver) Query() graph.QueryResolver       { return (*queryResolver)(r) }
func (r *resolver) Subscription() graph.SubscriptionResolver {
	return subscriptionResolver{}
}

type queryResolver resolver

func (r *queryResolver) Contract(ctx context.Context, id string) (*upstream.Contract, error) {
	h, err := (*resolver)(r).history(ctx, id)
	if err != nil {
		return nil, err
	}
	return contractIn(h, id), nil
}

func (r *queryResolver) Contracts(ctx context.Context, ids []string) ([]*upstream.Contract, error) {
	out := make([]*upstream.Contract, len(ids))
	for i, id := range ids {
		c, err := r.Contract(ctx, id)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

func (r *queryResolver) HistoryStats(context.Context, []string, *model.TicketFilter, *upstream.Time) (*model.HistoryStats, error) {
	return nil, errors.New("not in the baseline")
}

type contractResolver resolver

func (r *contractResolver) History(ctx context.Context, obj *upstream.Contract) (*model.ContractHistory, error) {
	id := string(*obj.ID)
	h, err := (*resolver)(r).history(ctx, id)
	if err != nil {
		return nil, err
	}
	return &model.ContractHistory{ContractID: id, All: h.Tickets, Zone: upstream.DefaultZone(), Now: time.Now()}, nil
}

type intentResolver struct{}

func (intentResolver) Tags(_ context.Context, obj *upstream.Intent) ([]string, error) {
	return obj.Tags, nil
}

type mutationResolver struct{}

func (mutationResolver) InvalidateContractHistory(context.Context, string) (bool, error) {
	return false, errors.New("not in the baseline")
}

type subscriptionResolver struct{}

func (subscriptionResolver) ContractChanged(context.Context, []string) (<-chan *upstream.Contract, error) {
	return nil, errors.New("not in the baseline")
}

// contractIn is the contract as embedded in its own history (the newest ticket's customer's
// copy), as the facade answers it.
func contractIn(h *upstream.History, id string) *upstream.Contract {
	for i := len(h.Tickets) - 1; i >= 0; i-- {
		if t := h.Tickets[i]; t != nil && t.Customer != nil {
			for _, c := range t.Customer.Contracts {
				if c != nil && c.ID != nil && string(*c.ID) == id {
					return c
				}
			}
		}
	}
	uid := upstream.ID(id)
	return &upstream.Contract{ID: &uid}
}
