package graph

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The aggregates of ../upstream/testdata/stats.json, a history of 14 tickets made by hand so that
// every rule of TicketStats decides something, worked out by hand below. Its zoneless
// timestamps are Europe/Berlin's (UTC+1 in these months: no daylight saving time on the way).
//
//	id   status   channel direction priority createdAt         closedAt    dueBy        intents        tags              month    hours to close
//	101  resolved email   in        high     2023-12-20 09:00  12-20 17:00  12-21 09:00  meter ×2       Zähler            2023-12   8
//	102  resolved phone   in        medium   2024-01-08 08:00  01-08 09:00  01-08 08:30  meter tariff   Zähler Tarif      2024-01   1 late
//	103  closed   email   out       low      2024-01-09 10:00  01-11 17:00  01-10 10:00  tariff         Tarif ×2          2024-01  55 late
//	104  resolved chat    in        high     2024-01-15 12:00  01-15 15:00  01-15 15:00  move_out       Umzug             2024-01   3 (closed at dueBy: not late)
//	105  resolved email   in        urgent   2024-01-31 23:30Z 02-04 16:30Z -            []             []                2024-02  89 (00:30 on 1 Feb in Berlin)
//	106  resolved phone   in        medium   2024-01-31 23:30  02-01 12:30  02-01 12:00  meter          Zähler            2024-01  13 late
//	107  closed   chat    out       low      2024-02-05 09:00  02-05 11:00  02-06 09:00  -              -                 2024-02   2
//	108  resolved email   in        high     2024-02-12 08:00  02-13 18:00  02-13 08:00  tariff meter   Tarif             2024-02  34 late
//	109  resolved phone   internal  critical 2024-03-01 00:30  03-01 05:30  null         -              -                 2024-03   5 (29 Feb in UTC)
//	110  closed   email   in        medium   2024-02-20 10:00  02-21 07:00  02-21 10:00  move_out       Umzug             2024-02  21
//	111  open     email   in        high     2024-02-25 10:00  null         02-27 10:00  meter          Eskalation        2024-02  open, overdue
//	112  pending  chat    in        low      2024-02-28 09:00  -            03-01 13:30  -              -                 2024-02  open, due 12:30 UTC
//	113  open     letter  in        medium   2024-02-29 16:00  0000-00-00   -            -              -                 2024-02  open, no dueBy
//	114  null     -       -         -        -                 02-20 10:00  02-19 10:00  -              -                 none     no createdAt: late, no duration
//
// "Tarif ×2" are two tags of that name (different ids and full names), "meter ×2" two intents
// of that code: each counts once.
const statsFixture = "../upstream/testdata/stats.json"

// statsNow is the now of the hand-computed aggregates: 12:00 UTC, 13:00 in Berlin.
const statsNow = `"2024-03-01T12:00:00Z"`

// statsSelection selects every field of TicketStats.
const statsSelection = `{ count open byStatus { key count } byChannel { key count } byDirection { key count }
	byPriority { key count } byIntent { key count } byTag { key count } byMonth { key count }
	timeToClose { count medianSeconds p90Seconds } dueBreaches { closedLate openOverdue } }`

type bucket struct {
	Key   string
	Count int
}

type durationStats struct {
	Count                     int
	MedianSeconds, P90Seconds *float64
}

type dueBreaches struct{ ClosedLate, OpenOverdue int }

// ticketStats is a TicketStats as the API answers it.
type ticketStats struct {
	Count, Open                                                            int
	ByStatus, ByChannel, ByDirection, ByPriority, ByIntent, ByTag, ByMonth []bucket
	TimeToClose                                                            durationStats
	DueBreaches                                                            dueBreaches
}

// buckets lists key, count, key, count, ...
func buckets(kv ...any) []bucket {
	out := []bucket{}
	for i := 0; i < len(kv); i += 2 {
		out = append(out, bucket{kv[i].(string), kv[i+1].(int)})
	}
	return out
}

func secs(s float64) *float64 { return &s }

// The hand-computed aggregates at statsNow. Durations sorted, in hours; the median is at rank
// ⌈n/2⌉ and p90 at rank ⌈0.9·n⌉ (from 1).
var (
	// Every ticket.
	wantAllStats = ticketStats{
		Count: 14, Open: 3, // 111, 112, 113
		ByStatus:    buckets("resolved", 7, "closed", 3, "open", 2, "none", 1, "pending", 1),
		ByChannel:   buckets("email", 6, "chat", 3, "phone", 3, "letter", 1, "none", 1),
		ByDirection: buckets("in", 10, "out", 2, "internal", 1, "none", 1),
		ByPriority:  buckets("high", 4, "medium", 4, "low", 3, "critical", 1, "none", 1, "urgent", 1),
		// meter: 101 102 106 108 111; tariff: 102 103 108; move_out: 104 110; none: 105 107 109 112 113 114.
		ByIntent: buckets("none", 6, "meter_reading", 5, "tariff_change", 3, "move_out", 2),
		// none: 105 107 109 112 113 114; Tarif: 102 103 108; Zähler: 101 102 106; Umzug: 104 110; Eskalation: 111.
		ByTag:   buckets("none", 6, "Tarif", 3, "Zähler", 3, "Umzug", 2, "Eskalation", 1),
		ByMonth: buckets("2023-12", 1, "2024-01", 4, "2024-02", 7, "2024-03", 1, "none", 1),
		// 1 2 3 5 8 13 21 34 55 89: n = 10, median at rank 5 = 8 h, p90 at rank 9 = 55 h. (Averaging
		// ranks 5 and 6 would give 10.5 h, index n/2 13 h; p90 interpolated 55 + 0.1·34 = 58.4 h, one
		// rank off 34 or 89 h.)
		TimeToClose: durationStats{Count: 10, MedianSeconds: secs(28800), P90Seconds: secs(198000)},
		// Late: 102 103 106 108 114. Overdue: 111 (112 is due at 12:30 UTC).
		DueBreaches: dueBreaches{ClosedLate: 5, OpenOverdue: 1},
	}
	// channel email: 101 103 105 108 110 111.
	wantEmailStats = ticketStats{
		Count: 6, Open: 1,
		ByStatus:    buckets("resolved", 3, "closed", 2, "open", 1),
		ByChannel:   buckets("email", 6),
		ByDirection: buckets("in", 5, "out", 1),
		ByPriority:  buckets("high", 3, "low", 1, "medium", 1, "urgent", 1),
		ByIntent:    buckets("meter_reading", 3, "tariff_change", 2, "move_out", 1, "none", 1),
		ByTag:       buckets("Tarif", 2, "Eskalation", 1, "Umzug", 1, "Zähler", 1, "none", 1),
		ByMonth:     buckets("2023-12", 1, "2024-01", 1, "2024-02", 4),
		// 8 21 34 55 89: median at rank 3 = 34 h, p90 at rank ⌈4.5⌉ = 5: 89 h.
		TimeToClose: durationStats{Count: 5, MedianSeconds: secs(122400), P90Seconds: secs(320400)},
		DueBreaches: dueBreaches{ClosedLate: 2, OpenOverdue: 1}, // 103 108; 111
	}
	// open: 111 112 113, none closed.
	wantOpenStats = ticketStats{
		Count: 3, Open: 3,
		ByStatus:    buckets("open", 2, "pending", 1),
		ByChannel:   buckets("chat", 1, "email", 1, "letter", 1),
		ByDirection: buckets("in", 3),
		ByPriority:  buckets("high", 1, "low", 1, "medium", 1),
		ByIntent:    buckets("none", 2, "meter_reading", 1),
		ByTag:       buckets("none", 2, "Eskalation", 1),
		ByMonth:     buckets("2024-02", 3),
		TimeToClose: durationStats{Count: 0, MedianSeconds: nil, P90Seconds: nil},
		DueBreaches: dueBreaches{ClosedLate: 0, OpenOverdue: 1},
	}
	// fixture-a, the first 7 tickets: 101 to 107.
	wantAStats = ticketStats{
		Count: 7, Open: 0,
		ByStatus:    buckets("resolved", 5, "closed", 2),
		ByChannel:   buckets("email", 3, "chat", 2, "phone", 2),
		ByDirection: buckets("in", 5, "out", 2),
		ByPriority:  buckets("high", 2, "low", 2, "medium", 2, "urgent", 1),
		ByIntent:    buckets("meter_reading", 3, "none", 2, "tariff_change", 2, "move_out", 1),
		ByTag:       buckets("Zähler", 3, "Tarif", 2, "none", 2, "Umzug", 1),
		ByMonth:     buckets("2023-12", 1, "2024-01", 4, "2024-02", 2),
		// 1 2 3 8 13 55 89: median at rank 4 = 8 h, p90 at rank ⌈6.3⌉ = 7: 89 h.
		TimeToClose: durationStats{Count: 7, MedianSeconds: secs(28800), P90Seconds: secs(320400)},
		DueBreaches: dueBreaches{ClosedLate: 3, OpenOverdue: 0}, // 102 103 106
	}
	// fixture-b, the last 7 tickets: 108 to 114.
	wantBStats = ticketStats{
		Count: 7, Open: 3,
		ByStatus:    buckets("open", 2, "resolved", 2, "closed", 1, "none", 1, "pending", 1),
		ByChannel:   buckets("email", 3, "chat", 1, "letter", 1, "none", 1, "phone", 1),
		ByDirection: buckets("in", 5, "internal", 1, "none", 1),
		ByPriority:  buckets("high", 2, "medium", 2, "critical", 1, "low", 1, "none", 1),
		ByIntent:    buckets("none", 4, "meter_reading", 2, "move_out", 1, "tariff_change", 1),
		ByTag:       buckets("none", 4, "Eskalation", 1, "Tarif", 1, "Umzug", 1),
		ByMonth:     buckets("2024-02", 5, "2024-03", 1, "none", 1),
		// 5 21 34: median at rank 2 = 21 h, p90 at rank ⌈2.7⌉ = 3: 34 h.
		TimeToClose: durationStats{Count: 3, MedianSeconds: secs(75600), P90Seconds: secs(122400)},
		DueBreaches: dueBreaches{ClosedLate: 2, OpenOverdue: 1}, // 108 114; 111
	}
	wantEmptyStats = ticketStats{
		ByStatus: buckets(), ByChannel: buckets(), ByDirection: buckets(), ByPriority: buckets(),
		ByIntent: buckets(), ByTag: buckets(), ByMonth: buckets(),
	}
)

// newStatsUpstream serves the fixture for any contract id, except fixture-a and fixture-b (its
// first and last 7 tickets), empty, not-found (404) and server-error (500).
func newStatsUpstream(t *testing.T) *testUpstream {
	t.Helper()
	fixture := mustReadFile(t, statsFixture)
	var whole struct{ Tickets []json.RawMessage }
	if err := json.Unmarshal(fixture, &whole); err != nil || len(whole.Tickets) != 14 {
		t.Fatalf("%s: %d tickets, %v", statsFixture, len(whole.Tickets), err)
	}
	history := func(tickets []json.RawMessage) []byte {
		b, _ := json.Marshal(map[string]any{"tickets": tickets})
		return b
	}
	bodies := map[string][]byte{
		"fixture-a": history(whole.Tickets[:7]),
		"fixture-b": history(whole.Tickets[7:]),
		"empty":     []byte(`{"tickets":[]}`),
	}
	return newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) {
		switch id {
		case "not-found":
			w.WriteHeader(http.StatusNotFound)
		case "server-error":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			if b, ok := bodies[id]; ok {
				w.Write(b)
				return
			}
			w.Write(fixture)
		}
	})
}

// mustDecode unmarshals the JSON of an answer's field into v.
func mustDecode(t *testing.T, raw json.RawMessage, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
}

// diffStats fails t when got is not want, showing both.
func diffStats(t *testing.T, what string, got, want ticketStats) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// TestStatsHandComputed: ContractHistory.stats over the fixture, with and without a filter, is
// what was worked out by hand. The history is decoded for the query alone (a projection), so
// this also shows the aggregates read nothing the projection leaves out.
func TestStatsHandComputed(t *testing.T) {
	api, _ := newTestAPI(t, newStatsUpstream(t), 0)
	for _, tt := range []struct {
		args string
		want ticketStats
	}{
		{"now: " + statsNow, wantAllStats},
		{`filter: {channel: ["email"]}, now: ` + statsNow, wantEmailStats},
		{"filter: {open: true}, now: " + statsNow, wantOpenStats},
	} {
		resp := mustQuery(t, api, "token", `{ contract(id: "fixture") { history { stats(`+tt.args+`) `+statsSelection+` } } }`, nil)
		if len(resp.Errors) > 0 {
			t.Fatalf("stats(%s): %s", tt.args, resp.raw)
		}
		var got struct{ History struct{ Stats ticketStats } }
		mustDecode(t, resp.Data["contract"], &got)
		diffStats(t, fmt.Sprintf("stats(%s)", tt.args), got.History.Stats, tt.want)
	}
	// A history without tickets: zero counts, empty lists, no durations.
	resp := mustQuery(t, api, "token", `{ contract(id: "empty") { history { stats `+statsSelection+` } } }`, nil)
	var got struct{ History struct{ Stats ticketStats } }
	mustDecode(t, resp.Data["contract"], &got)
	diffStats(t, "stats of an empty history", got.History.Stats, wantEmptyStats)
}

// TestStatsNow: now places the open tickets' deadlines, in any DateTime format, given inline or
// as a variable, on ContractHistory.stats and on historyStats alike; a zoneless now is in the
// server's zone. Ticket 111 is due at 2024-02-27 09:00 UTC, 112 at 2024-03-01 12:30 UTC, and
// "before now" is strict.
func TestStatsNow(t *testing.T) {
	api, _ := newTestAPI(t, newStatsUpstream(t), 0)
	const q = `query($now: DateTime) {
		contract(id: "fixture") { history { stats(now: NOW) { dueBreaches { closedLate openOverdue } } } }
		historyStats(contractIds: ["fixture"], now: NOW) { totals { dueBreaches { closedLate openOverdue } } } }`
	for _, tt := range []struct {
		now     string // a GraphQL literal, also sent as the JSON of a variable
		overdue int
	}{
		{`"2024-03-01T12:00:00Z"`, 1},
		{`1709294400`, 1},            // 2024-03-01 12:00 UTC: 60 days after 1704067200 (1 Jan), plus 12 h
		{`"2024-03-01 13:00:00"`, 1}, // Berlin: 12:00 UTC (read as UTC it would make 112 overdue)
		{`"2024-03-01T13:00:00+01:00"`, 1},
		{`"2024-03-01T12:30:00Z"`, 1}, // 112's dueBy itself: not before now
		{`"2024-03-01 13:30:01"`, 2},
		{`1709296201`, 2},            // 12:30:01 UTC
		{`"2024-02-27 10:00:00"`, 0}, // 111's dueBy itself
		{`"2024-02-27 10:00:01"`, 1},
		{`"2023-01-01"`, 0},
	} {
		var v any
		if err := json.Unmarshal([]byte(tt.now), &v); err != nil {
			t.Fatal(err)
		}
		for how, req := range map[string]struct {
			query string
			vars  map[string]any
		}{
			"inline":     {strings.ReplaceAll(strings.Replace(q, "($now: DateTime)", "", 1), "NOW", tt.now), nil},
			"a variable": {strings.ReplaceAll(q, "NOW", "$now"), map[string]any{"now": v}},
		} {
			resp := mustQuery(t, api, "token", req.query, req.vars)
			var got struct {
				Contract struct {
					History struct {
						Stats struct{ DueBreaches dueBreaches }
					}
				}
				HistoryStats struct {
					Totals struct{ DueBreaches dueBreaches }
				}
			}
			if len(resp.Errors) > 0 {
				t.Errorf("now %s (%s): %s", tt.now, how, resp.raw)
				continue
			}
			mustDecode(t, resp.Data["contract"], &got.Contract)
			mustDecode(t, resp.Data["historyStats"], &got.HistoryStats)
			want := dueBreaches{ClosedLate: 5, OpenOverdue: tt.overdue}
			if s := got.Contract.History.Stats.DueBreaches; s != want {
				t.Errorf("stats(now: %s) (%s): dueBreaches %+v, want %+v", tt.now, how, s, want)
			}
			if s := got.HistoryStats.Totals.DueBreaches; s != want {
				t.Errorf("historyStats(now: %s) (%s): dueBreaches %+v, want %+v", tt.now, how, s, want)
			}
		}
	}
}

// TestStatsDefaultNowIsTheRequestTime: without now, a ticket due a second before the request
// is overdue and one due a day after it is not.
func TestStatsDefaultNowIsTheRequestTime(t *testing.T) {
	before := time.Now()
	body, _ := json.Marshal(map[string]any{"tickets": []any{
		map[string]any{"id": 1, "dueBy": before.Add(-time.Second).Format(time.RFC3339)},
		map[string]any{"id": 2, "dueBy": before.Add(24 * time.Hour).Format(time.RFC3339)},
	}})
	up := newTestUpstream(t, func(w http.ResponseWriter, r *http.Request, id string) { w.Write(body) })
	api, _ := newTestAPI(t, up, 0)
	resp := mustQuery(t, api, "token", `{
		contract(id: "1") { history { stats { dueBreaches { openOverdue } } } }
		historyStats(contractIds: ["1"]) { totals { dueBreaches { openOverdue } } } }`, nil)
	const want = `{"contract":{"history":{"stats":{"dueBreaches":{"openOverdue":1}}}},"historyStats":{"totals":{"dueBreaches":{"openOverdue":1}}}}`
	if got, _ := json.Marshal(resp.Data); string(got) != want {
		t.Errorf("got %s, want %s", resp.raw, want)
	}
}

// historyStatsAnswer is a HistoryStats as the API answers it.
type historyStatsAnswer struct {
	Contracts, Failed int
	Totals            ticketStats
	Rows              []struct {
		ContractID string
		Stats      ticketStats
	}
}

// counts flattens the additive parts of s (all but the percentiles) into named counts, so
// that rows can be summed and compared with totals.
func counts(s ticketStats) map[string]int {
	m := map[string]int{"count": s.Count, "open": s.Open, "timeToClose.count": s.TimeToClose.Count,
		"closedLate": s.DueBreaches.ClosedLate, "openOverdue": s.DueBreaches.OpenOverdue}
	for name, list := range map[string][]bucket{"byStatus": s.ByStatus, "byChannel": s.ByChannel, "byDirection": s.ByDirection,
		"byPriority": s.ByPriority, "byIntent": s.ByIntent, "byTag": s.ByTag, "byMonth": s.ByMonth} {
		for _, b := range list {
			m[name+"."+b.Key] += b.Count
		}
	}
	return m
}

// TestHistoryStats: one row per contract that loaded, in the order given and each once; the
// totals are the whole fixture's and the sum of the rows; a contract that fails is an error at
// the field's path naming it, counts in failed, and adds nothing; a filter applies to rows and
// totals alike.
func TestHistoryStats(t *testing.T) {
	up := newStatsUpstream(t)
	api, _ := newTestAPI(t, up, 0)
	const q = `query($ids: [ID!]!, $filter: TicketFilter) { historyStats(contractIds: $ids, filter: $filter, now: ` + statsNow + `) {
		contracts failed totals ` + statsSelection + ` rows { contractId stats ` + statsSelection + ` } } }`
	ids := []string{"fixture-b", "not-found", "fixture-a", "fixture-b", "server-error", "empty"}

	resp := mustQuery(t, api, "token", q, map[string]any{"ids": ids})
	var got historyStatsAnswer
	mustDecode(t, resp.Data["historyStats"], &got)
	if got.Contracts != 3 || got.Failed != 2 || len(got.Rows) != 3 {
		t.Fatalf("contracts %d, failed %d, %d rows; want 3, 2, 3: %s", got.Contracts, got.Failed, len(got.Rows), resp.raw)
	}
	for i, want := range []struct {
		id    string
		stats ticketStats
	}{{"fixture-b", wantBStats}, {"fixture-a", wantAStats}, {"empty", wantEmptyStats}} {
		if got.Rows[i].ContractID != want.id {
			t.Errorf("row %d is %s, want %s", i, got.Rows[i].ContractID, want.id)
		}
		diffStats(t, fmt.Sprintf("row %d (%s)", i, want.id), got.Rows[i].Stats, want.stats)
	}
	diffStats(t, "totals", got.Totals, wantAllStats)
	sum := map[string]int{}
	for _, r := range got.Rows {
		for k, n := range counts(r.Stats) {
			sum[k] += n
		}
	}
	if totals := counts(got.Totals); !reflect.DeepEqual(sum, totals) {
		t.Errorf("the rows sum to %v, the totals are %v", sum, totals)
	}
	if n := up.callsFor("fixture-b"); n != 1 {
		t.Errorf("%d upstream calls for the repeated fixture-b, want 1", n)
	}
	// The failures: at historyStats' path, with their own code, contract id and first index.
	if len(resp.Errors) != 2 {
		t.Fatalf("%d errors, want 2: %s", len(resp.Errors), resp.raw)
	}
	for _, want := range []struct {
		id, code string
		index    int
		status   int
	}{{"not-found", CodeNotFound, 1, 404}, {"server-error", CodeUpstreamError, 4, 500}} {
		found := false
		for _, e := range resp.Errors {
			if e.Extensions["contractId"] != want.id {
				continue
			}
			found = true
			if fmt.Sprint(e.Path) != "[historyStats]" || e.Extensions["code"] != want.code ||
				e.Extensions["index"] != float64(want.index) || e.Extensions["upstreamStatus"] != float64(want.status) {
				t.Errorf("error of %s: path %v, extensions %v; want [historyStats], %s, index %d, upstreamStatus %d",
					want.id, e.Path, e.Extensions, want.code, want.index, want.status)
			}
		}
		if !found {
			t.Errorf("no error names %s: %s", want.id, resp.raw)
		}
	}

	// A filter applies to the rows and to the totals.
	resp = mustQuery(t, api, "token", q, map[string]any{"ids": ids, "filter": map[string]any{"channel": []string{"email"}}})
	got = historyStatsAnswer{}
	mustDecode(t, resp.Data["historyStats"], &got)
	if got.Contracts != 3 || got.Failed != 2 || len(got.Rows) != 3 {
		t.Fatalf("filtered: contracts %d, failed %d, %d rows; want 3, 2, 3: %s", got.Contracts, got.Failed, len(got.Rows), resp.raw)
	}
	diffStats(t, "filtered totals", got.Totals, wantEmailStats)
	type brief struct {
		Count, Open int
		TimeToClose durationStats
		DueBreaches dueBreaches
	}
	for i, want := range []brief{
		// 108 110 111: 21 34 h, median at rank 1, p90 at rank ⌈1.8⌉ = 2.
		{3, 1, durationStats{2, secs(75600), secs(122400)}, dueBreaches{1, 1}},
		// 101 103 105: 8 55 89 h, median at rank 2, p90 at rank ⌈2.7⌉ = 3.
		{3, 0, durationStats{3, secs(198000), secs(320400)}, dueBreaches{1, 0}},
		{0, 0, durationStats{}, dueBreaches{}},
	} {
		s := got.Rows[i].Stats
		if b := (brief{s.Count, s.Open, s.TimeToClose, s.DueBreaches}); !reflect.DeepEqual(b, want) {
			t.Errorf("filtered row %d (%s): %+v, want %+v", i, got.Rows[i].ContractID, b, want)
		}
	}
}

// TestHistoryStatsTakesAtMostAHundredIDs: 101 ids are refused as BAD_USER_INPUT before any
// upstream call.
func TestHistoryStatsTakesAtMostAHundredIDs(t *testing.T) {
	up := newStatsUpstream(t)
	api, _ := newTestAPI(t, up, 0)
	ids := make([]string, 101)
	for i := range ids {
		ids[i] = fmt.Sprint("c", i)
	}
	resp := mustQuery(t, api, "token", `query($ids: [ID!]!) { historyStats(contractIds: $ids) { contracts } }`, map[string]any{"ids": ids})
	if ext := resp.errorAt("historyStats"); len(resp.Errors) != 1 || ext["code"] != CodeBadUserInput || resp.Data["historyStats"] != nil {
		t.Errorf("101 ids: %s, want one BAD_USER_INPUT and no data", resp.raw)
	}
	if n := up.total(); n != 0 {
		t.Errorf("101 ids made %d upstream calls, want 0", n)
	}
}
