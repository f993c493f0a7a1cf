package httpapi

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/enneo-facade/facade/graph/playground"
)

// playgroundConfig is the playground's page: the API's endpoint, ExampleQuery, and in demo mode
// the demo token in its headers.
func playgroundConfig(demoToken string) playground.Config {
	pg := playground.Config{Title: "Enneo contract history", Endpoint: "/graphql", DefaultQuery: ExampleQuery}
	if demoToken != "" {
		pg.DefaultHeaders = map[string]string{"Authorization": "Bearer " + demoToken}
	}
	return pg
}

// ExampleQuery pre-fills the playground: a web app's list view of one contract's tickets.
const ExampleQuery = `# Press the run button to see contract 746839's tickets.
# Demo ids: any id like 100001 or C-1001. Error paths:
# empty, not-found, forbidden, server-error,
# rate-limited, malformed, html, slow, hang.
query ContractTickets {
  contract(id: "746839") {
    id
    productName
    history {
      tickets {
        id
        createdAt
        status
        channel
        subject
        customer {
          firstname
          lastname
        }
      }
    }
  }
}
`

// apiIndex answers / when the playground is off (production, unless PLAYGROUND=true): what is
// served here and how to turn the playground on, rather than a bare 404.
func apiIndex() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{
			"service":    "Enneo contract history GraphQL API",
			"graphql":    "POST or GET /graphql with Authorization: Bearer <token>",
			"playground": "off: set PLAYGROUND=true to serve GraphiQL here (and INTROSPECTION=true for its docs and completion)",
			"schema":     "schema.graphqls in the repository is the schema served",
		})
	})
}

// StartupGuide is what the process prints below its address, for whoever started it: where the
// playground and the endpoint are, what to send in demo mode (o.DemoToken), and in production
// what is off and how to turn it on; persisted is how many operations the manifest holds.
func StartupGuide(o Options, port int, introspection bool, persisted int) string {
	demo := o.DemoToken != ""
	base := fmt.Sprintf("http://localhost:%d", port)
	var b strings.Builder
	switch {
	case o.Playground && demo:
		fmt.Fprintf(&b, "  playground  %s/  (the demo upstream: a query and the demo token are filled in; press run)\n", base)
	case o.Playground:
		fmt.Fprintf(&b, "  playground  %s/\n", base)
	default:
		fmt.Fprintf(&b, "  playground  off: set PLAYGROUND=true to serve it at %s/\n", base)
	}
	if !introspection {
		b.WriteString("  introspection off: set INTROSPECTION=true to let clients read the schema (schema.graphqls is the same)\n")
	}
	if persisted > 0 {
		fmt.Fprintf(&b, "  persisted   %d operations from PERSISTED_OPERATIONS_FILE, by documentId, doc_id or hash\n", persisted)
	}
	fmt.Fprintf(&b, "  GraphQL     %s/graphql", base)
	if demo {
		fmt.Fprintf(&b, "  (send Authorization: Bearer %s; the demo upstream takes any token)", o.DemoToken)
	}
	b.WriteString("\n")
	return b.String()
}
