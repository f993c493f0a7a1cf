package httpapi

import (
	"net/http"

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
