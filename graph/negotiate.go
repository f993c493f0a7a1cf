package graph

import (
	"mime"
	"strconv"
	"strings"
)

// The media types an answer may have.
const (
	applicationJSON     = "application/json"
	graphqlResponseJSON = "application/graphql-response+json"
	textCSV             = "text/csv"
	multipartMixed      = "multipart/mixed"
	textEventStream     = "text/event-stream"
)

// The two forms of incremental delivery (@defer) over multipart/mixed that clients ask for by
// a parameter of the media type: Apollo Client's deferSpec=20220824 (also what a bare
// multipart/mixed gets: gqlgen's, urql's and Apollo Client 3's format), and the format of
// graphql-js 17 (incrementalSpec=v0.2: pending ids announced, then completed).
const (
	deferSpec20220824 = "20220824"
	incrementalV02    = "v0.2"
)

// answerForm is what a request's Accept header (and a GET's format parameter) lets the answer
// be: media is the type of an answer in one piece (application/json,
// application/graphql-response+json or text/csv; empty when the client takes none of them),
// incremental the multipart form it takes for an operation with @defer, and events the form of
// @defer's payloads it takes as server-sent events (GraphQL over SSE, graphql-sse's distinct
// connections mode); empty: none.
type answerForm struct {
	media       string
	incremental string
	events      string
}

// acceptable reports whether the client takes any answer the facade can give.
func (f answerForm) acceptable() bool { return f.media != "" || f.incremental != "" || f.events != "" }

// eventsOnly reports whether the client takes nothing but server-sent events, as graphql-sse's
// client asks: every answer is then a stream of events, errors before execution included.
func (f answerForm) eventsOnly() bool { return f.events != "" && f.media == "" && f.incremental == "" }

// negotiateAccept reads an Accept header. Of the types the facade writes in one piece, the
// client's most preferred wins (by q, then by order); a missing header takes application/json,
// as GraphQL over HTTP asks. Wildcards stand for JSON (*/*, application/*) and CSV (text/*);
// multipart/mixed and text/event-stream must be named to get a streamed answer.
func negotiateAccept(header string) answerForm {
	if strings.TrimSpace(header) == "" {
		return answerForm{media: applicationJSON}
	}
	var (
		f                  answerForm
		best, bestM, bestE = -1.0, -1.0, -1.0
	)
	for part := range strings.SplitSeq(header, ",") {
		media, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(s, 64); err != nil || q < 0 || q > 1 {
				continue
			}
		}
		if q == 0 {
			continue // "not acceptable"
		}
		var one string
		switch media {
		case "*/*", "application/*", applicationJSON:
			one = applicationJSON
		case graphqlResponseJSON:
			one = graphqlResponseJSON
		case "text/*", textCSV:
			one = textCSV
		case multipartMixed, "multipart/*":
			if q > bestM {
				bestM, f.incremental = q, incrementalForm(params)
			}
			continue
		case textEventStream:
			if q > bestE {
				bestE, f.events = q, incrementalForm(params)
			}
			continue
		default:
			continue
		}
		if q > best {
			best, f.media = q, one
		}
	}
	return f
}

// incrementalForm is the form of incremental delivery multipart/mixed's parameters ask for.
func incrementalForm(params map[string]string) string {
	if params["incrementalspec"] == incrementalV02 {
		return incrementalV02
	}
	return deferSpec20220824
}
