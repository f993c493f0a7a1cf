package demo

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// This file writes the tickets of a contract: threads of requests, replies and notes over the
// contract's life, their texts filled in from the topics in words.go, and the agents, tags,
// attachments and intents that go with them.

// offsets are the zones autoExecuteAt is written in: UTC ("Z") or German winter or summer time.
var offsets = []*time.Location{time.UTC, time.FixedZone("", 3600), time.FixedZone("", 7200)}

// thread is one customer concern: a request and what followed it share a subject and the
// values they talk about (the same meter reading, the same amount).
type thread struct {
	topic   *topic
	subject string
	v       *ticketVars
}

// event is a ticket to be written: when, which way, in which thread, and whether it answers an
// earlier ticket of the thread.
type event struct {
	at     int64
	dir    string
	th     *thread
	answer bool
}

// ticketGen writes the tickets of one contract.
type ticketGen struct {
	r          *rand.Rand
	s          *supply
	cust       *customer
	customerID string // the ticket's customerId: a string, unlike customer.id
	number     int64  // the contract's number in ids (see ids.go)
	seq        int    // how many tickets have been written
}

// tickets writes n tickets, oldest first, over the contract's life: from signup until the
// demo's present, or until 90 days after the contract ended.
func (g *ticketGen) tickets(n int) []*ticket {
	c := g.s.c
	hi := demoNow - 3600
	if c.EndDate != nil {
		hi = min(hi, *c.EndDate+90*day)
	}
	return g.ticketsBetween(n, c.SignupDate+3600, hi)
}

// ticketsBetween writes n tickets dated from lo to about hi, oldest first: requests, some
// answered by an agent, annotated with an internal note or followed up by the customer.
func (g *ticketGen) ticketsBetween(n int, lo, hi int64) []*ticket {
	if n <= 0 {
		return []*ticket{}
	}
	r := g.r
	var events []event
	for len(events) < n {
		at := lo + r.Int64N(hi-lo)
		tp := &topics[weighted(r, 24, 14, 10, 9, 14, 8, 7, 5, 4, 5)]
		v := g.newVars(at)
		th := &thread{topic: tp, subject: v.fill(pick(r, tp.subjects)), v: v}
		if chance(r, 12) { // the supplier writes first
			events = append(events, event{at, "out", th, false})
			continue
		}
		events = append(events, event{at, "in", th, false})
		if chance(r, 55) {
			at += int64(between(r, 2*3600, 3*day))
			events = append(events, event{at, "out", th, true})
			if chance(r, 25) {
				events = append(events, event{at + int64(between(r, day, 5*day)), "in", th, true})
			}
		}
		if chance(r, 20) {
			events = append(events, event{at + int64(between(r, 600, day)), "internal", th, false})
		}
	}
	events = events[:n]
	for i := range events {
		events[i].at = min(events[i].at, hi) // follow-ups of late requests
	}
	slices.SortStableFunc(events, func(a, b event) int { return cmp.Compare(a.at, b.at) })
	out := make([]*ticket, n)
	for i := range events {
		if i > 0 && events[i].at <= events[i-1].at {
			events[i].at = events[i-1].at + int64(between(r, 1, 300))
		}
		out[i] = g.ticket(events[i])
	}
	return out
}

// ticketVars are the values the placeholders in a topic's texts stand for.
type ticketVars struct {
	date, isoDate, reading, expected, meter, meter2           string
	amount, amountNum, oldAmount, consumption                 string
	street, town, zip, moveDate, isoMoveDate                  string
	endDate, isoEndDate, iban, ibanTail, ibanMasked           string
	tariff, productCode, invoice, year, contract, first, last string
	startDate                                                 string
}

// newVars draws the values a ticket created at sec talks about.
func (g *ticketGen) newVars(sec int64) *ticketVars {
	r, s, c := g.r, g.s, g.s.c
	seen := sec - int64(r.IntN(4*day))
	reading := s.reading(seen)
	deposit := int(c.MonthlyDeposit)
	amount := max(10, deposit+between(r, -25, 40))*100 + pick(r, []int{0, 0, 50})
	move := midnight(sec + int64(between(r, 7, 40))*day)
	end := firstOfNextMonth(sec + 28*day)
	if c.EndDate != nil && *c.EndDate > sec {
		end = *c.EndDate
	}
	iban := germanIBAN(r)
	pl := pick(r, places)
	other := pick(r, products)
	for other.gas != s.product.gas || other.id == s.product.id { // a tariff the customer could switch to
		other = pick(r, products)
	}
	year := time.Unix(sec, 0).UTC().Year()
	return &ticketVars{
		date:        deDate(seen),
		isoDate:     isoDate(seen),
		reading:     strconv.Itoa(reading),
		expected:    strconv.Itoa(reading + between(r, -150, 150)),
		meter:       c.CounterNumber,
		meter2:      fmt.Sprintf("1%s%010d", pick(r, meterMakers), r.Int64N(10_000_000_000)),
		amount:      euro(amount),
		amountNum:   fmt.Sprintf("%d.%02d", amount/100, amount%100),
		oldAmount:   euro(deposit * 100),
		consumption: strconv.Itoa(c.Consumption),
		street:      streetAddress(r),
		town:        pl.zip + " " + pl.town,
		zip:         pl.zip,
		moveDate:    deDate(move),
		isoMoveDate: isoDate(move),
		endDate:     deDate(end),
		isoEndDate:  isoDate(end),
		iban:        groupIBAN(iban),
		ibanTail:    iban[len(iban)-4:],
		ibanMasked:  iban[:4] + strings.Repeat("*", len(iban)-8) + iban[len(iban)-4:],
		tariff:      other.name,
		productCode: other.code,
		invoice:     fmt.Sprintf("RE-%d-%06d", year, r.IntN(1_000_000)),
		year:        strconv.Itoa(year - 1),
		contract:    g.s.id,
		first:       g.cust.Firstname,
		last:        g.cust.Lastname,
		startDate:   deDate(c.StartDate),
	}
}

// euro formats cents as German currency: 65,50 €.
func euro(cents int) string { return fmt.Sprintf("%d,%02d €", cents/100, cents%100) }

// get returns the value of placeholder name, or "" for an unknown one.
func (v *ticketVars) get(name string) string {
	switch name {
	case "date":
		return v.date
	case "isoDate":
		return v.isoDate
	case "reading":
		return v.reading
	case "expected":
		return v.expected
	case "meter":
		return v.meter
	case "meter2":
		return v.meter2
	case "amount":
		return v.amount
	case "amountNum":
		return v.amountNum
	case "oldAmount":
		return v.oldAmount
	case "consumption":
		return v.consumption
	case "street":
		return v.street
	case "town":
		return v.town
	case "zip":
		return v.zip
	case "moveDate":
		return v.moveDate
	case "isoMoveDate":
		return v.isoMoveDate
	case "endDate":
		return v.endDate
	case "isoEndDate":
		return v.isoEndDate
	case "iban":
		return v.iban
	case "ibanTail":
		return v.ibanTail
	case "ibanMasked":
		return v.ibanMasked
	case "tariff":
		return v.tariff
	case "productCode":
		return v.productCode
	case "invoice":
		return v.invoice
	case "year":
		return v.year
	case "contract":
		return v.contract
	case "first":
		return v.first
	case "last":
		return v.last
	case "startDate":
		return v.startDate
	}
	return ""
}

// fill replaces each {name} in s by its value.
func (v *ticketVars) fill(s string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			break
		}
		b.WriteString(s[:i])
		b.WriteString(v.get(s[i+1 : i+j]))
		s = s[i+j+1:]
	}
	b.WriteString(s)
	return b.String()
}

// upperFirst capitalises the first letter of s, for request texts that do not follow a greeting.
func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// htmlEntities are the named entities some mail clients write for German letters; bodies use
// them in about half of the tickets, so clients must decode entities, not just strip tags.
var htmlEntities = strings.NewReplacer(
	"&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;",
	"ä", "&auml;", "ö", "&ouml;", "ü", "&uuml;", "Ä", "&Auml;", "Ö", "&Ouml;", "Ü", "&Uuml;",
	"ß", "&szlig;", "€", "&euro;", "„", "&bdquo;", "“", "&ldquo;", "–", "&ndash;",
)

// htmlMinimal escapes only what HTML requires.
var htmlMinimal = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

// htmlBody renders paragraphs as the upstream's HTML body: one <p> each, line breaks as <br>.
func htmlBody(paras []string, named bool) string {
	esc := htmlMinimal
	if named {
		esc = htmlEntities
	}
	var b strings.Builder
	for _, p := range paras {
		b.WriteString("<p>")
		b.WriteString(strings.ReplaceAll(esc.Replace(p), "\n", "<br>"))
		b.WriteString("</p>")
	}
	return b.String()
}

// status draws a ticket's status: old tickets are mostly done, recent ones often still open.
func status(r *rand.Rand, created int64) string {
	all := []string{"open", "pending", "waitingOnCustomer", "waitingOnThirdParty", "resolved", "closed"}
	if demoNow-created > 30*day {
		if chance(r, 90) {
			return pick(r, all[4:])
		}
		return pick(r, all)
	}
	return all[weighted(r, 30, 20, 15, 10, 15, 10)]
}

// channelFor draws the channel of a ticket going in direction dir.
func channelFor(r *rand.Rand, dir string) string {
	switch dir {
	case "in":
		return []string{"email", "portal", "phone", "letter", "chat", "walkIn", "system"}[weighted(r, 45, 15, 12, 8, 12, 3, 5)]
	case "out":
		return []string{"email", "letter", "system", "portal"}[weighted(r, 65, 20, 10, 5)]
	}
	return []string{"system", "phone", "email"}[weighted(r, 70, 15, 15)]
}

// renderedAgents holds each agent as tickets show it, built once: agents recur in almost every
// ticket, and sharing them saves allocations. The two versions of the upstream's docs spell
// isSsoOnly 0/1 and false/true; agents at even places in the list spell it 0/1, the others
// false/true, and each keeps its spelling in every ticket, so an agent id always stands for the
// same object. The first, the example's agent, spells it 0 as the example does.
var renderedAgents = sync.OnceValue(func() []*agent {
	var out []*agent
	for i, d := range agents {
		a := &agent{
			ID: d.id, FirstName: d.first, LastName: d.last, Email: d.email, Phone: d.phone,
			LastSeen: d.lastSeen, Type: d.typ, IsSsoOnly: d.ssoOnly, Lang: d.lang, NameAlias: d.alias, ExternalID: d.externalRef,
		}
		if i%2 == 0 {
			a.IsSsoOnly = 0
			if d.ssoOnly {
				a.IsSsoOnly = 1
			}
		}
		out = append(out, a)
	}
	return out
})

// agentAt returns agents[i] as a ticket shows it. The result is shared and must not be modified.
func agentAt(i int) *agent { return renderedAgents()[i] }

// uuid returns a random version 4 UUID from r.
func uuid(r *rand.Rand) string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:8], r.Uint64())
	binary.LittleEndian.PutUint64(b[8:16], r.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// hex returns n random lower-case hex digits.
func hex(r *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[r.IntN(16)]
	}
	return string(b)
}

// ticket writes the ticket for event e.
func (g *ticketGen) ticket(e event) *ticket {
	r, cust, tp, v := g.r, g.cust, e.th.topic, e.th.v
	created := e.at
	g.seq++
	id := ticketID(g.number, g.seq)
	subchannel := between(r, 1, 8)
	r.IntN(100000) // spent (see ids.go): once the external ticket id
	t := &ticket{
		ID:               id,
		Direction:        e.dir,
		To:               []string{},
		CcEmails:         []string{},
		BccEmails:        []string{},
		ReplyCcEmails:    []string{},
		SubchannelID:     subchannel,
		ExternalTicketID: externalTicketID(id),
		Sentiment:        pick(r, []string{"neutral", "neutral", "positive", "negative"}),
		Language:         "German",
		LanguageCode:     "de",
		IsCustomerActive: g.s.c.EndDate == nil || created < *g.s.c.EndDate,
		Interface:        []string{"internal", "api"}[weighted(r, 80, 20)],
		Priority:         []string{"low", "medium", "high", "urgent"}[weighted(r, 35, 40, 18, 7)],
		Channel:          channelFor(r, e.dir),
		ChannelID:        uuid(r),
		Status:           status(r, created),
		IsEscalated:      chance(r, 5),
		CreatedAt:        naive(created),
		Customer:         cust,
		CustomerID:       g.customerID,
		ContractID:       g.s.id,
		PartnerID:        pick(r, []int{123, 123, 124, 200}),
		AssignedAgentIDs: []int{},
		AssignedAgents:   []*agent{},
		WorkedOnByIDs:    []int{},
		WorkedOnBy:       []*agent{},
		Attachments:      []*attachment{},
		Template:         pick(r, templates),
		Tags:             []*tag{},
		TagIDs:           []int{},
		AgentSkillsMatch: chance(r, 85),
		Intents:          []*intent{},
		Workitem:         map[string]any{},
	}
	if tp.tag == tagComplaint {
		t.Sentiment = pick(r, []string{"negative", "negative", "neutral"})
		t.IsEscalated = chance(r, 40)
		t.Priority = pick(r, []string{"high", "urgent", "medium"})
	}
	response := map[string]int64{"urgent": 4 * 3600, "high": 8 * 3600, "medium": day, "low": 2 * day}[t.Priority]
	t.FirstResponseDueBy = naive(created + response)
	t.DueBy = naive(created + 2*response + day)
	switch weighted(r, 70, 15, 5, 5, 3) {
	case 0:
		t.SpamStatus = ptr("auto_clean")
	case 2:
		t.SpamStatus = ptr("manual_clean")
	case 3:
		t.SpamStatus = ptr(pick(r, []string{"auto_spam", "manual_spam"}))
	case 4:
		t.SpamStatus = ptr("auto_programmatic")
	}
	if t.Channel == "system" {
		t.SpamStatus = ptr("auto_programmatic")
	}
	if t.Status == "closed" || t.Status == "resolved" {
		t.ClosedAt = ptr(naive(min(created+int64(between(r, 300, 7*day)), demoNow)))
	}
	if chance(r, 70) {
		until := created + int64(between(r, 60, 3*day))
		if t.ClosedAt != nil && chance(r, 60) {
			until = min(created+int64(between(r, 60, 7*day)), demoNow) // may coincide with closing
		}
		t.ModifiedAt = ptr(naive(min(until, demoNow)))
	}

	g.text(t, e, v)
	g.people(t, e)
	g.tagsFor(t, tp)
	if e.dir != "internal" && (e.dir == "in" || chance(r, 30)) {
		g.attachmentsFor(t, tp, v)
	}
	switch {
	case e.dir == "in" && chance(r, 90):
		t.Intents = append(t.Intents, g.intent(t, tp, v, created))
		if chance(r, 12) {
			t.Intents = append(t.Intents, g.intent(t, &topics[r.IntN(len(topics))], v, created))
		}
	case e.dir != "in" && chance(r, 20):
		t.Intents = append(t.Intents, g.intent(t, tp, v, created))
	}
	if len(t.Intents) > 0 && chance(r, 25) {
		at := time.Unix(created+int64(between(r, 900, 7200)), 0).In(pick(r, offsets))
		t.AutoExecuteAt = ptr(at.Format(time.RFC3339))
	}
	switch weighted(r, 60, 30, 10) {
	case 1:
		t.AdditionalData = map[string]any{}
	case 2:
		t.AdditionalData = map[string]any{"webform": "kontakt", "portalUserId": between(r, 1000, 99999), "consentMarketing": chance(r, 30)}
	}
	if chance(r, 30) {
		switch t.Channel {
		case "email":
			t.RawData = map[string]any{"messageId": "<" + hex(r, 16) + "@mail.example.de>", "spamScore": round(r.Float64()*3, 2)}
		case "phone":
			t.RawData = map[string]any{"callId": uuid(r), "durationSeconds": between(r, 40, 1200)}
		default:
			t.RawData = map[string]any{"source": t.Channel}
		}
	}
	if chance(r, 35) {
		t.Workitem = map[string]any{"queue": tp.label, "position": between(r, 1, 40), "slaBreached": chance(r, 10)}
	}
	return t
}

// text writes the addresses, subject, summary and bodies of t.
func (g *ticketGen) text(t *ticket, e event, v *ticketVars) {
	r, cust, tp := g.r, g.cust, e.th.topic
	name := cust.Firstname + " " + cust.Lastname
	var paras []string
	var clean string
	subject := e.th.subject
	if e.answer {
		subject = "AW: " + subject
	}
	switch e.dir {
	case "in":
		req := v.fill(pick(r, tp.requests))
		if e.answer {
			req = "vielen Dank für Ihre Antwort, mein Anliegen ist aber noch nicht erledigt. " + upperFirst(req)
		}
		greeting, closing := pick(r, greetings), pick(r, closings)
		t.Summary = v.fill(tp.summary)
		t.FromName = name
		switch t.Channel {
		case "phone":
			paras = []string{"Telefonnotiz", "Anruf von " + name + ". Anliegen: " + upperFirst(req)}
			clean = upperFirst(req)
			subject = "Anruf: " + subject
		case "chat":
			paras = []string{"Chatverlauf", "Kunde: Hallo\nBot: Hallo! Wie kann ich Ihnen helfen?\nKunde: " + upperFirst(req)}
			clean = upperFirst(req)
			subject = "Chat: " + subject
			t.From = ptr(cust.Email)
		case "walkIn":
			paras = []string{"Besuch im Kundencenter", name + " trägt vor: " + upperFirst(req)}
			clean = upperFirst(req)
			subject = "Kundencenter: " + subject
		case "system":
			paras = []string{"Automatisch erzeugter Vorgang aus dem Kundenportal", upperFirst(req)}
			clean = upperFirst(req)
			t.From, t.FromName = ptr(noReplyMail), "Kundenportal"
			t.To = []string{serviceMail}
		default: // email, portal, letter
			paras = []string{greeting, req}
			if chance(r, 15) {
				paras = append(paras, pick(r, postscripts))
			}
			paras = append(paras, closing+"\n"+name)
			clean = greeting + " " + req
			switch t.Channel {
			case "portal":
				paras = append([]string{"Nachricht über das Kontaktformular (Vertrag " + g.s.id + ")"}, paras...)
				t.From = ptr(cust.Email)
				t.To = []string{serviceMail}
			case "letter":
				paras = append([]string{"Eingescannter Brief vom " + deDate(e.at-int64(between(r, day, 4*day)))}, paras...)
			default:
				t.From = ptr(cust.Email)
				t.To = []string{serviceMail}
			}
		}
	case "out":
		reply := v.fill(pick(r, tp.replies))
		t.Summary = "Antwort an den Kunden: " + tp.label
		t.FromName = serviceName
		if t.Channel == "system" {
			paras = []string{"Automatische Benachrichtigung", upperFirst(reply), "Dies ist eine automatisch erzeugte Nachricht."}
			subject = "Information zu Ihrem Vertrag " + g.s.id
			t.From, t.To = ptr(noReplyMail), []string{cust.Email}
		} else {
			greeting := pick(r, []string{"Guten Tag " + name + ",", "Hallo " + cust.Firstname + ","})
			paras = []string{greeting, reply, "Viele Grüße\nIhr " + serviceName}
			if !e.answer {
				subject = "Ihr Vertrag " + g.s.id + ": " + tp.label
			}
			if t.Channel != "letter" {
				t.From, t.To = ptr(serviceMail), []string{cust.Email}
			}
		}
		clean = upperFirst(reply)
	default: // internal
		note := v.fill(pick(r, tp.notes))
		t.Summary = "Interne Notiz zu " + tp.label
		paras = []string{"Interne Notiz", note}
		clean = note
		subject = "Interne Notiz: " + tp.label
	}
	t.Subject = subject
	t.BodyPlain = strings.Join(paras, "\n\n")
	t.Body = htmlBody(paras, chance(r, 45))
	t.BodyClean = clean
	if t.Channel == "email" && e.dir != "internal" {
		if chance(r, 60) {
			rr := &replyRecipients{To: []string{cust.Email}, Cc: []string{}, Bcc: []string{}}
			if chance(r, 20) {
				rr.Cc = append(rr.Cc, mailAddress(r, pick(r, firstNames), cust.Lastname))
			}
			if chance(r, 10) {
				rr.Bcc = append(rr.Bcc, "archiv@musterwerke.example.de")
			}
			t.ReplyRecipients = rr
		}
		if chance(r, 10) {
			t.CcEmails = append(t.CcEmails, mailAddress(r, pick(r, firstNames), cust.Lastname))
		}
		if chance(r, 5) {
			t.BccEmails = append(t.BccEmails, "archiv@musterwerke.example.de")
		}
		if chance(r, 5) {
			t.ReplyCcEmails = append(t.ReplyCcEmails, "secondlevel@musterwerke.example.de")
		}
	}
}

// people fills in the agents who own, answered and worked on t, and how the customer was
// recognised.
func (g *ticketGen) people(t *ticket, e event) {
	r := g.r
	chance(r, 50) // spent (see ids.go): once the ticket's spelling of isSsoOnly
	l := legitimations[weighted(r, 10, 10, 10, 35, 35)]
	if e.dir != "in" {
		l = legitimations[4]
	}
	t.CustomerLegitimation, t.CustomerLegitimationMessage = l.level, l.message
	team := r.Perm(len(agents))
	nAssigned := weighted(r, 30, 55, 15)
	if e.dir != "in" {
		nAssigned = max(1, nAssigned) // someone wrote it
	}
	for _, i := range team[:nAssigned] {
		t.AssignedAgentIDs = append(t.AssignedAgentIDs, agents[i].id)
		t.AssignedAgents = append(t.AssignedAgents, agentAt(i))
	}
	nWorked := 0
	if t.ClosedAt != nil || t.Status != "open" || e.dir != "in" {
		nWorked = between(r, 1, 3)
	}
	for _, i := range team[:nWorked] {
		t.WorkedOnByIDs = append(t.WorkedOnByIDs, agents[i].id)
		t.WorkedOnBy = append(t.WorkedOnBy, agentAt(i))
	}
	switch {
	case nAssigned > 0 && (e.dir != "in" || chance(r, 80)):
		t.AgentID, t.Agent = ptr(agents[team[0]].id), agentAt(team[0])
	case chance(r, 25): // known agent but no agentId, as in the example
		t.Agent = agentAt(team[len(team)-1])
	}
	if e.dir == "out" {
		t.ResponderID = ptr(agents[team[0]].id)
		if t.Channel != "system" {
			t.FromName = agents[team[0]].first + " " + agents[team[0]].last + " (" + serviceName + ")"
		}
	} else if e.dir == "internal" {
		t.FromName = agents[team[0]].first + " " + agents[team[0]].last
	} else if nWorked > 0 && chance(r, 50) {
		t.ResponderID = ptr(agents[team[0]].id)
	}
}

// tagsFor tags t with its topic's tag and, sometimes, the VIP, Second Level and brand tags.
func (g *ticketGen) tagsFor(t *ticket, tp *topic) {
	r := g.r
	idx := []int{}
	if chance(r, 90) {
		idx = append(idx, tp.tag)
	}
	for _, ct := range g.cust.Tags {
		if ct.Name == tagDefs[tagVIP].name {
			idx = append(idx, tagVIP)
		}
	}
	if t.IsEscalated {
		idx = append(idx, tagSecond)
	}
	if chance(r, 10) {
		idx = append(idx, tagBrand)
	}
	if g.s.product.code == "oeko_plus" && chance(r, 50) {
		idx = append(idx, tagGreen)
	}
	for _, i := range idx {
		tg := g.tag(i)
		t.Tags = append(t.Tags, tg)
		if tg.ID != nil {
			t.TagIDs = append(t.TagIDs, *tg.ID)
		}
	}
}

// renderedTags holds each tag of tagDefs as tickets show it, with its id and, for the tags that
// exist only on a ticket, with a null id; built once and shared, so a tag id stands for the same
// object in every ticket. Properties is [] or an object, the variants the upstream's docs show;
// the first tag, the example's, is rendered as the example has it.
var renderedTags = sync.OnceValue(func() [2][]*tag {
	var out [2][]*tag
	for i, d := range tagDefs {
		t := &tag{
			ID: ptr(d.id), Name: d.name, FullName: d.full, Parent: d.parent, Reference: d.reference, Type: d.typ,
			Visibility: d.visibility, Color: d.color, Complexity: d.complexity, SLA: d.sla, Priority: d.priority,
			Channels: d.channels, Subchannels: d.subchans, RoutingRelevance: d.routing, Assignment: d.assignment,
			ModifiedBy: d.modifiedBy, ModifiedAt: d.modifiedAt,
			Properties: []any{}, DetectionDetails: map[string]any{}, TestCase: map[string]any{},
		}
		switch i % 3 {
		case 1:
			t.Properties = map[string]any{}
		case 2:
			t.Properties = map[string]any{"erpField": "category_" + strconv.Itoa(d.id), "autoClose": i%2 == 0}
		}
		if i%2 == 1 {
			t.DetectionDetails = map[string]any{"model": "intent-classifier-v3", "keywords": []string{d.name}, "score": round(0.5+float64(d.id%50)/100, 3)}
		}
		if i%4 == 3 {
			t.TestCase = map[string]any{"input": "Beispieltext zu " + d.name, "expected": d.name}
		}
		anonymous := *t
		anonymous.ID = nil
		out[0], out[1] = append(out[0], t), append(out[1], &anonymous)
	}
	return out
})

// tag returns tagDefs[i] as one ticket shows it: with its id, or now and then without one. The
// result is shared and must not be modified.
func (g *ticketGen) tag(i int) *tag {
	r := g.r
	withID := chance(r, 92)
	// Spent (see ids.go): the draws that once gave a tag its properties, detectionDetails and
	// testCase anew on each ticket.
	if weighted(r, 45, 35, 20) == 2 {
		chance(r, 30)
	}
	if chance(r, 30) {
		r.Float64()
	}
	chance(r, 20)
	if withID {
		return renderedTags()[0][i]
	}
	return renderedTags()[1][i]
}

// attachmentsFor attaches zero to two files that suit the topic.
func (g *ticketGen) attachmentsFor(t *ticket, tp *topic, v *ticketVars) {
	r := g.r
	kinds := tp.attachments
	if t.Direction == "out" {
		kinds = []attachmentKind{confirmationPDF, invoicePDF}
	}
	if len(kinds) == 0 || !chance(r, 55) {
		return
	}
	for range 1 + weighted(r, 80, 20) {
		t.Attachments = append(t.Attachments, g.attachment(t, pick(r, kinds), v))
	}
}

// attachment renders the next file of ticket t, of the given kind.
func (g *ticketGen) attachment(t *ticket, kind attachmentKind, v *ticketVars) *attachment {
	r := g.r
	stamp := strings.NewReplacer("-", "", " ", "_", ":", "").Replace(t.CreatedAt)
	r.Int64N(900_000_000_000) // spent (see ids.go): once the attachment's id
	a := &attachment{ID: strconv.FormatInt(partID(t.ID, len(t.Attachments)+1), 10), ExtractionStatus: "success"}
	switch kind {
	case meterPhoto:
		a.Name, a.FileEnding, a.ContentType = "IMG_"+stamp+".jpg", "jpg", "image/jpeg"
		a.Size = between(r, 1_200_000, 4_800_000)
		a.Width, a.Height = ptr(3120), ptr(4160)
		if chance(r, 40) {
			a.Width, a.Height = ptr(4032), ptr(3024)
		}
		if chance(r, 80) {
			reading, _ := strconv.Atoi(v.reading)
			a.ExtractionData = map[string]any{"confidence": round(0.6+r.Float64()*0.39, 3), "meterValue": float64(reading) + 0.5*float64(r.IntN(2))}
		} else {
			a.ExtractionStatus = "failed"
		}
		if chance(r, 30) {
			a.ExtractedData = map[string]any{"meterNumber": v.meter}
		}
	case screenshot:
		a.Name, a.FileEnding, a.ContentType = "Bildschirmfoto "+stamp+".png", "png", "image/png"
		a.Size = between(r, 150_000, 900_000)
		a.Width, a.Height = ptr(1170), ptr(2532)
		a.Inline = chance(r, 50)
		a.ExtractionStatus = pick(r, []string{"success", "pending"})
	default:
		a.Name = map[attachmentKind]string{
			invoicePDF:      "Rechnung_" + v.invoice + ".pdf",
			letterPDF:       "Scan_" + stamp + ".pdf",
			confirmationPDF: "Vertragsbestaetigung_" + v.contract + ".pdf",
		}[kind]
		a.FileEnding, a.ContentType = "pdf", "application/pdf"
		a.Size = between(r, 40_000, 900_000)
		if chance(r, 60) {
			a.ExtractionData = map[string]any{"pages": between(r, 1, 4)}
		} else {
			a.ExtractionStatus = pick(r, []string{"failed", "pending"})
		}
		if chance(r, 25) {
			a.ExtractedData = map[string]any{"documentType": "pdf", "language": "de"}
		}
	}
	a.URL = filesBaseURL + hex(r, 2) + "/" + a.ID + "-" + hex(r, 8) + "/" + url.PathEscape(a.Name)
	a.OriginalURL = "https://storage.example.com/attachments/" + url.PathEscape(a.Name)
	return a
}

// intent renders what the AI recognised about topic tp in ticket t, as t's next intent.
func (g *ticketGen) intent(t *ticket, tp *topic, v *ticketVars, created int64) *intent {
	r, cust := g.r, g.cust
	conf := round(0.55+r.Float64()*0.44, 2)
	between(r, 1_000_000, 9_999_999) // spent (see ids.go): once the intent's id
	it := &intent{
		ID:             partID(t.ID, len(t.Intents)+1),
		Code:           tp.intentCode,
		Name:           tp.intentName,
		ContractID:     g.s.id,
		Confidence:     conf,
		Verified:       chance(r, 40),
		Context:        map[string]any{},
		MessagePreview: v.fill(tp.preview),
		Recipient:      cust.Email,
		Data:           map[string]any{},
		Options:        []*intentOpt{},
		Infos:          []*intentInfo{},
	}
	if n, ok := contractIDValue(g.s.id).(json.Number); ok && chance(r, 25) {
		it.ContractID = n // documented: intent contractId is sometimes a number
	}
	switch {
	case conf >= 0.9:
		it.ConfidenceColor = "success"
	case conf >= 0.75:
		it.ConfidenceColor = "warning"
	default:
		it.ConfidenceColor = "danger"
	}
	if chance(r, 30) {
		it.Context = map[string]any{"channel": t.Channel, "language": t.LanguageCode}
	}
	if chance(r, 50) {
		it.Data = map[string]any{"detected": tp.label, "contractId": g.s.id}
		if tp.intentCode == "process_meter_reading" {
			reading, _ := strconv.Atoi(v.reading)
			it.Data = map[string]any{"readingValue": reading, "readingDate": v.isoDate, "meterNumber": v.meter}
		}
	}
	rec := 0
	if chance(r, 15) {
		rec = 1
	}
	for i, o := range tp.options {
		it.Options = append(it.Options, &intentOpt{Type: o.typ, Name: o.name, Icon: o.icon, Recommended: i == rec, Order: i + 1})
	}
	for _, i := range r.Perm(len(tp.infos))[:r.IntN(len(tp.infos)+1)] {
		in := tp.infos[i]
		it.Infos = append(it.Infos, &intentInfo{Code: in.code, Type: in.typ, Message: v.fill(in.message), ExtraInfo: v.fill(in.extra)})
	}
	if chance(r, 25) {
		it.ExtraInfo = ptr(pick(r, []string{"Automatisch aus dem Betreff erkannt", "Mehrere Anliegen in einer Nachricht", "Vertrag über die Zählernummer zugeordnet"}))
	}
	switch weighted(r, 50, 30, 20) {
	case 0:
		it.Tags = "prePopulated"
	case 1:
		it.Tags = []string{"prePopulated", "writesToErp"}
	default:
		it.Tags = []string{"writesToErp"}
	}
	ok := chance(r, 85)
	o := &intentOutcome{
		AiAgentID:        between(r, 1, 5),
		Success:          ok,
		MessageLocalized: tp.localized,
		InternalData:     map[string]any{"requestEndpoint": tp.endpoint, "requestParams": v.fill(tp.params)},
		ExecutedAt:       naive(created + int64(between(r, 30, 1800))),
		UserID:           pick(r, agents).id,
		Sent:             ok && chance(r, 70),
		Recipient:        cust.Email,
		Message:          upperFirst(v.fill(pick(r, tp.replies))),
		Template:         fmt.Sprintf("<p>Hallo %s,</p><p>%%MESSAGE%%</p><p>Viele Grüße<br>Ihr %s</p>", cust.Firstname, serviceName),
		Sources:          []*outcomeSource{},
		TxID:             txID(it.ID),
	}
	hex(r, 10) // spent (see ids.go): once the txId
	o.TicketClosed = o.Sent && t.ClosedAt != nil
	if !ok {
		o.MessageLocalized = pick(r, []string{"ERP hat die Anfrage abgelehnt: Vertrag gesperrt", "Zeitüberschreitung bei der Verbindung zum ERP", "Plausibilitätsprüfung fehlgeschlagen"})
	}
	for _, i := range r.Perm(len(knowledgeSources))[:weighted(r, 40, 45, 15)] {
		k := knowledgeSources[i]
		o.Sources = append(o.Sources, &outcomeSource{Type: "knowledgeSource", ID: k.id, Name: k.name, URL: faqBaseURL + strconv.Itoa(k.id), Text: k.text})
	}
	it.Outcome = o
	return it
}
