package demo

// This file holds the vocabulary the generator draws from: fake German names and places, the
// agents and tags of the fictional supplier "Musterwerke", and one topic per kind of customer
// request. Every name is a placeholder (Mustermann, Musterfrau, Beispiel ...) and every mail
// domain is an example domain, so the demo data never contains a real person's details.

// firstNames are common German first names; paired with the placeholder surnames below they
// read as German without naming anybody.
var firstNames = []string{
	"Anna", "Lena", "Marie", "Sophie", "Laura", "Julia", "Katharina", "Sabine", "Petra", "Monika",
	"Ursula", "Claudia", "Jana", "Lea", "Emma", "Hannah", "Birgit", "Gisela", "Jürgen", "Jörg",
	"Björn", "Günther", "Lukas", "Jonas", "Leon", "Felix", "Paul", "Maximilian", "Tobias", "Stefan",
	"Thomas", "Michael", "Andreas", "Klaus", "Uwe", "Timo", "Sören", "Tom", "Erika", "Max",
}

// lastNames are placeholder surnames in the spirit of Mustermann; the umlauts exercise the
// transliteration of mail addresses and the HTML entity encoding of bodies.
var lastNames = []string{
	"Mustermann", "Musterfrau", "Beispiel", "Beispielmann", "Mustermeier", "Musterhuber",
	"Musterbauer", "Musterschulz", "Musterwagner", "Probemann", "Normalverbraucher", "Platzhalter",
	"Testmann", "Exempel", "Mustergärtner", "Musterkötter", "Musterbäcker", "Übungsmann",
	"Vorlagenberg", "Fiktivhausen", "Beispielhof", "Musterstädter", "Probst-Muster", "Großmuster",
}

// companyPatterns name business customers; %s is the customer's last name. Some contain "&" so
// the HTML encoding of bodies has something to escape.
var companyPatterns = []string{
	"Bäckerei %s GmbH", "%s & Partner Steuerberatung", "Autohaus %s KG", "Gasthaus Zur Linde, Inh. %s",
	"Malerbetrieb %s e.K.", "%s & Söhne Metallbau GmbH", "Praxis Dr. %s",
}

// mailDomains are reserved example domains (RFC 2606 and the like).
var mailDomains = []string{"example.de", "example.com", "example.org", "mail.example.de", "post.example.net"}

// streets are generic German street names; a house number is appended.
var streets = []string{
	"Hauptstraße", "Bahnhofstraße", "Gartenweg", "Lindenallee", "Schillerstraße", "Goethestraße",
	"Am Mühlbach", "Birkenweg", "Kirchplatz", "Rosenstraße", "Hugo-Junkers-Str.", "Ringstraße",
	"Waldstraße", "Schulstraße", "Friedrich-Ebert-Straße", "Am Sonnenhang", "Talstraße", "Musterweg",
	"Beispielallee", "Im Winkel", "Königsberger Straße", "Zur Alten Mühle",
}

// place is a postcode with its town.
type place struct{ zip, town string }

// places are German towns with one of their postcodes.
var places = []place{
	{"10115", "Berlin"}, {"20095", "Hamburg"}, {"80331", "München"}, {"50667", "Köln"},
	{"60311", "Frankfurt am Main"}, {"70173", "Stuttgart"}, {"40213", "Düsseldorf"}, {"04109", "Leipzig"},
	{"01067", "Dresden"}, {"30159", "Hannover"}, {"90402", "Nürnberg"}, {"28195", "Bremen"},
	{"82031", "Grünwald"}, {"79098", "Freiburg im Breisgau"}, {"24103", "Kiel"}, {"48143", "Münster"},
	{"97070", "Würzburg"}, {"66111", "Saarbrücken"}, {"18055", "Rostock"}, {"99084", "Erfurt"},
}

// Fixed details of the fictional supplier whose service desk the tickets belong to.
const (
	serviceMail  = "service@musterwerke.example.de"
	noReplyMail  = "noreply@musterwerke.example.de"
	serviceName  = "Musterwerke Kundenservice"
	faqBaseURL   = "https://musterwerke.example.de/faq/"
	erpBaseURL   = "https://erp.example.com/contract/"
	filesBaseURL = "https://files.example.com/attachments/"
)

// product is a tariff of the supplier.
type product struct {
	id         int
	name, code string
	gas        bool
}

// products are the supplier's tariffs; contracts pick one of their energy.
var products = []product{
	{1, "Flex 24", "flx_24", false}, {2, "Fix 12", "fix_12", false}, {3, "Öko Strom Plus", "oeko_plus", false},
	{4, "Wärmestrom", "waermestrom", false}, {5, "Strom Basis", "strom_basis", false},
	{11, "Gas Flex", "gas_flex", true}, {12, "Gas Fix 24", "gas_fix_24", true}, {13, "Biogas 10", "biogas_10", true},
}

// gridOperator is a distribution system operator with its 13-digit market partner code.
type gridOperator struct {
	name string
	code int64
}

// gridOperators are fictional; their codes have the 13 digits of real BDEW codes, which is what
// makes gridOperatorCode overflow a 32-bit integer.
var gridOperators = []gridOperator{
	{"Stadtwerke Musterstadt Netz GmbH", 9900123000007},
	{"Beispielwerke Verteilnetz AG", 9907654000012},
	{"Netze Süd-Muster GmbH", 9800456000031},
	{"Stromnetz Beispielstadt GmbH", 9911222000045},
	{"Gasnetz Musterland GmbH", 9870033000058},
	{"Regionalnetz Probeland GmbH & Co. KG", 1000000000000},
}

// meterMakers are three-letter manufacturer codes used in German meter numbers (1ESY..., 1EMH...).
var meterMakers = []string{"ESY", "EMH", "ITF", "LGZ", "ISK", "EBZ", "DZG", "ELS"}

// agentDef is a service agent of the supplier.
type agentDef struct {
	id                       int
	first, last, email       string
	phone, lastSeen, typ     string
	ssoOnly                  bool
	lang, alias, externalRef string
}

// agents are the supplier's service agents. The first is the example's agent, unchanged, so
// generated tickets of contract 746839 share it with the example ticket.
var agents = []agentDef{
	{1, "Max", "Mustermann", "demo@enneo.dev", "+49 123 456789", "2022-08-12 12:21:21", "enneo", false, "de", "Johnny", "EMP-12345"},
	{7, "Erika", "Musterfrau", "erika.musterfrau@musterwerke.example.de", "+49 30 98765432", "2025-09-29 16:02:44", "enneo", true, "de", "Eri", "EMP-20431"},
	{12, "Jonas", "Beispiel", "jonas.beispiel@musterwerke.example.de", "+49 89 5550123", "2025-09-30 08:15:00", "enneo", false, "en", "Jo", "EMP-20977"},
	{15, "Leonie", "Mustermeier", "leonie.mustermeier@musterwerke.example.de", "+49 40 5550198", "2025-09-28 11:47:09", "enneo", true, "de", "Leo", "EMP-21340"},
	{23, "Timo", "Platzhalter", "timo.platzhalter@dienstleister.example.com", "+49 221 5550144", "2025-07-14 17:30:52", "external", false, "de", "", "EXT-00871"},
	{31, "Sandra", "Musterhuber", "sandra.musterhuber@musterwerke.example.de", "+49 711 5550111", "2025-09-30 09:02:31", "enneo", true, "de", "Sanni", "EMP-22015"},
	{42, "Felix", "Probemann", "felix.probemann@musterwerke.example.de", "+49 351 5550170", "2025-09-26 14:20:18", "enneo", false, "de", "", "EMP-22498"},
	{57, "Nina", "Exempel", "nina.exempel@dienstleister.example.com", "+49 511 5550102", "2025-08-02 10:05:43", "external", true, "en", "Nini", "EXT-01203"},
}

// customerTagDef is a label customers may carry ({id, color, name} in the example).
type customerTagDef struct {
	id          int
	color, name string
}

// customerTags are the labels customers may carry.
var customerTags = []customerTagDef{
	{2, "green", "VIP"}, {5, "blue", "Online-Kunde"}, {8, "red", "Zahlungsverzug"},
	{9, "yellow", "Sozialtarif"}, {14, "purple", "Gewerbe"}, {17, "teal", "Neukunde"},
}

// tagDef is a ticket tag (skill, product ...) as configured in the supplier's desk.
type tagDef struct {
	id         int
	name, full string
	parent     int
	reference  string
	typ        string
	visibility string
	color      string
	complexity string
	sla        int
	priority   string
	channels   []string
	subchans   []int
	routing    bool
	assignment []string
	modifiedBy string
	modifiedAt string
}

// Indexes into tagDefs of the tags that are not tied to a topic.
const (
	tagComplaint = 0
	tagGreen     = 10
	tagVIP       = 11
	tagSecond    = 12
	tagBrand     = 13
)

// tagDefs are the ticket tags; topics refer to them by index. The first is the example's tag,
// unchanged, so generated tickets show it as the example ticket does.
var tagDefs = []tagDef{
	{123, "Complaint", "Second Level: Complaint", 6, "ticket", "skill", "public", "grey", "moderate", 8, "do-not-change", []string{"email", "chat"}, []int{2, 4}, true, []string{"assignBySubchannel", "assignByCustomLogic"}, "John Doe", "2024-08-29 14:38:12"},
	{61, "Zählerstand", "Abrechnung: Zählerstand", 3, "ticket", "skill", "public", "green", "simple", 24, "low", []string{"email", "portal", "letter"}, []int{1}, true, []string{"assignBySubchannel"}, "Erika Musterfrau", "2024-03-11 09:12:45"},
	{62, "Abschlag", "Abrechnung: Abschlag", 3, "ticket", "skill", "public", "blue", "simple", 24, "do-not-change", []string{"email", "portal", "phone"}, []int{1, 2}, true, []string{"assignBySubchannel"}, "Erika Musterfrau", "2024-03-11 09:13:02"},
	{63, "Umzug", "Vertrag: Umzug", 4, "ticket", "skill", "public", "orange", "moderate", 48, "medium", []string{"email", "portal", "letter", "phone"}, []int{3}, true, []string{"assignBySubchannel", "assignByCustomLogic"}, "Max Mustermann", "2023-11-20 16:44:10"},
	{64, "Kündigung", "Vertrag: Kündigung", 4, "ticket", "skill", "public", "red", "complex", 24, "high", []string{"email", "letter", "portal"}, []int{3, 5}, true, []string{"assignByCustomLogic"}, "Max Mustermann", "2023-11-20 16:45:31"},
	{65, "Rechnung", "Abrechnung: Rechnung", 3, "ticket", "skill", "public", "yellow", "moderate", 72, "do-not-change", []string{"email", "letter"}, []int{1, 6}, true, []string{"assignBySubchannel"}, "Jonas Beispiel", "2024-06-02 08:01:55"},
	{66, "Tarifwechsel", "Vertrag: Tarifwechsel", 4, "ticket", "product", "public", "purple", "simple", 72, "low", []string{"email", "portal", "chat"}, []int{4}, false, []string{"assignBySubchannel"}, "Jonas Beispiel", "2024-06-02 08:03:17"},
	{67, "Bankverbindung", "Zahlung: Bankverbindung", 5, "ticket", "skill", "private", "teal", "simple", 48, "medium", []string{"email", "letter", "portal"}, []int{6}, true, []string{"assignBySubchannel"}, "Sandra Musterhuber", "2025-01-15 13:22:08"},
	{68, "Mahnung", "Zahlung: Mahnung", 5, "ticket", "skill", "private", "red", "complex", 24, "high", []string{"email", "letter", "phone"}, []int{6, 7}, true, []string{"assignByCustomLogic"}, "Sandra Musterhuber", "2025-01-15 13:24:40"},
	{69, "Lieferbeginn", "Vertrag: Lieferbeginn", 4, "contract", "contractProperty", "public", "green", "simple", 96, "low", []string{"email", "portal"}, []int{3}, false, []string{"assignBySubchannel"}, "Max Mustermann", "2023-09-05 10:10:10"},
	{70, "Ökostrom", "Produkt: Ökostrom", 8, "contract", "product", "disabled", "green", "simple", 96, "do-not-change", []string{"email"}, []int{4}, false, []string{"assignBySubchannel"}, "Jonas Beispiel", "2022-05-19 12:00:00"},
	{2, "VIP", "Kunde: VIP", 1, "customer", "customerProperty", "public", "green", "moderate", 4, "urgent", []string{"email", "phone", "chat"}, []int{2}, true, []string{"assignByCustomLogic"}, "Erika Musterfrau", "2024-12-01 07:30:00"},
	{6, "Second Level", "Second Level", 0, "ticket", "other", "public", "grey", "complex", 8, "high", []string{"email", "chat", "phone"}, []int{2, 4}, true, []string{"assignBySubchannel", "assignByCustomLogic"}, "John Doe", "2024-08-29 14:30:00"},
	{71, "Marke Beispielstrom", "Marke: Beispielstrom", 9, "ticket", "brand", "public", "blue", "simple", 48, "do-not-change", []string{"email"}, []int{1}, false, []string{"assignBySubchannel"}, "Jonas Beispiel", "2023-02-14 15:55:21"},
}

// option is one action an intent offers the agent.
type option struct{ typ, name, icon string }

// info is a hint an intent shows the agent.
type info struct{ code, typ, message, extra string }

// topic is one kind of customer request, with everything needed to write tickets about it. The
// texts contain placeholders such as {reading} that the generator fills in (see ticketVars).
// Request texts start lower-case because they follow a greeting ending in a comma.
type topic struct {
	label       string
	tag         int // index into tagDefs
	subjects    []string
	requests    []string
	replies     []string
	notes       []string
	summary     string
	intentCode  string
	intentName  string
	options     []option
	infos       []info
	preview     string
	localized   string
	endpoint    string
	params      string
	attachments []attachmentKind
}

// attachmentKind is a kind of file a ticket about a topic may carry.
type attachmentKind int

const (
	meterPhoto attachmentKind = iota
	invoicePDF
	letterPDF
	screenshot
	confirmationPDF
)

// ignoreOption is the "do nothing" action every intent offers.
var ignoreOption = option{"ignore", "Ignorieren", "cancel"}

// topics are the requests customers of an energy supplier write about most.
var topics = []topic{
	{
		label: "Zählerstand", tag: 1,
		subjects: []string{"Zählerstand {date}", "Mein aktueller Zählerstand", "Zählerstandsmeldung für Vertrag {contract}", "Ablesung Stromzähler", "Foto vom Zähler"},
		requests: []string{
			"anbei sende ich Ihnen meinen aktuellen Zählerstand: {reading} kWh, abgelesen am {date}. Die Zählernummer lautet {meter}.",
			"ich möchte meinen Zählerstand mitteilen. Am {date} stand der Zähler {meter} bei {reading} kWh. Ein Foto habe ich beigefügt.",
			"könnten Sie bitte den beiliegenden Zählerstand ({reading} kWh vom {date}) in Ihr System eintragen und mir eine Zwischenrechnung zukommen lassen?",
		},
		replies: []string{
			"vielen Dank für die Übermittlung Ihres Zählerstands. Wir haben den Wert von {reading} kWh zum {date} erfasst und für Ihre nächste Abrechnung berücksichtigt.",
			"Ihr Zählerstand von {reading} kWh wurde erfolgreich in unser System übernommen. Eine Zwischenrechnung erhalten Sie in den nächsten Tagen per Post.",
		},
		notes:      []string{"Zählerstand {reading} kWh plausibilisiert, Abweichung zur Hochrechnung unter 10 %.", "Foto unscharf, Zählerstand manuell geprüft und eingetragen."},
		summary:    "Kunde übermittelt Zählerstand {reading} kWh vom {date}",
		intentCode: "process_meter_reading", intentName: "Process a meter reading",
		options: []option{{"enter_into_system", "Eintragen", "check"}, ignoreOption, {"forward_to_vnb", "An VNB verweisen", "questionMark"}},
		infos: []info{
			{"USER_WARNING", "warning", "Zählerstand ist plausibel", "Erwartet waren ca. {expected} kWh. Plausibel, da die Abweichung unter der Schwelle von 200 kWh liegt."},
			{"METER_MISMATCH", "error", "Zählernummer weicht ab", "Im Foto erkannt: {meter2}, im Vertrag: {meter}."},
		},
		preview:     "Wir haben Ihren Zählerstand von {reading} kWh erfolgreich erfasst.",
		localized:   "Powercloud hat den Zählerstand übernommen",
		endpoint:    "saveReadingByContractId",
		params:      "readingValue={reading};date={isoDate}",
		attachments: []attachmentKind{meterPhoto, meterPhoto, screenshot},
	},
	{
		label: "Abschlag", tag: 2,
		subjects: []string{"Abschlag anpassen", "Änderung meines monatlichen Abschlags", "Abschlag zu hoch", "Bitte Abschlag auf {amount} senken"},
		requests: []string{
			"mein monatlicher Abschlag von {oldAmount} ist deutlich zu hoch. Bitte passen Sie ihn ab dem nächsten Monat auf {amount} an.",
			"da wir inzwischen weniger Strom verbrauchen, möchte ich meinen Abschlag auf {amount} ändern.",
			"ich möchte meinen Abschlag erhöhen, um eine Nachzahlung zu vermeiden. Bitte buchen Sie ab dem {date} monatlich {amount} ab.",
		},
		replies: []string{
			"wir haben Ihren monatlichen Abschlag wie gewünscht ab dem {date} auf {amount} angepasst.",
			"leider können wir Ihren Abschlag nicht unter {amount} senken, da dieser auf Ihrem bisherigen Verbrauch von {consumption} kWh basiert.",
		},
		notes:      []string{"Abschlagsänderung von {oldAmount} auf {amount} im ERP hinterlegt.", "Abschlag liegt unter der Verbrauchsprognose, Rücksprache mit dem Kunden nötig."},
		summary:    "Kunde wünscht Abschlagsänderung auf {amount}",
		intentCode: "change_deposit", intentName: "Change the monthly deposit",
		options: []option{{"change_deposit", "Abschlag ändern", "check"}, {"propose_alternative", "Alternative vorschlagen", "edit"}, ignoreOption},
		infos: []info{
			{"DEPOSIT_TOO_LOW", "warning", "Gewünschter Abschlag liegt unter der Prognose", "Prognose: {oldAmount} monatlich bei {consumption} kWh/Jahr."},
			{"DEPOSIT_OK", "info", "Abschlag im zulässigen Bereich", ""},
		},
		preview:   "Ihr Abschlag wurde ab dem {date} auf {amount} angepasst.",
		localized: "Abschlag im ERP geändert",
		endpoint:  "updateDepositByContractId",
		params:    "amount={amountNum};validFrom={isoDate}",
	},
	{
		label: "Umzug", tag: 3,
		subjects: []string{"Umzug zum {moveDate}", "Neue Adresse", "Ich ziehe um", "Umzug – Vertrag mitnehmen"},
		requests: []string{
			"ich ziehe am {moveDate} in die {street} in {town} um. Bitte nehmen Sie meinen Vertrag an die neue Adresse mit.",
			"zum {moveDate} beziehe ich eine neue Wohnung ({street}, {town}). Der Zählerstand bei Auszug betrug {reading} kWh.",
			"wegen eines Umzugs möchte ich meinen Vertrag an die neue Adresse {street}, {town} mitnehmen. Können Sie meinen alten Vertrag zum {moveDate} beenden?",
		},
		replies: []string{
			"vielen Dank für Ihre Umzugsmeldung. Wir beliefern Sie ab dem {moveDate} an Ihrer neuen Adresse {street}, {town}.",
			"für Ihren Umzug benötigen wir noch die Zählernummer an der neuen Adresse. Bitte senden Sie uns diese zu.",
		},
		notes:      []string{"Umzug angelegt, Lieferbeginn an neuer Adresse am {moveDate}.", "Netzbetreiber wegen der Zählernummer an der neuen Adresse angefragt."},
		summary:    "Umzug zum {moveDate} nach {town}",
		intentCode: "process_move", intentName: "Process a move",
		options: []option{{"register_move", "Umzug anlegen", "check"}, {"request_meter_number", "Zählernummer anfragen", "questionMark"}, ignoreOption},
		infos: []info{
			{"MISSING_METER_NUMBER", "warning", "Zählernummer an der neuen Adresse fehlt", "Ohne Zählernummer kann die Anmeldung beim Netzbetreiber nicht erfolgen."},
			{"MOVE_DATE_PAST", "info", "Einzugsdatum liegt in der Vergangenheit", "Rückwirkende Anmeldung bis zu 6 Wochen möglich."},
		},
		preview:     "Wir haben Ihren Umzug zum {moveDate} erfasst.",
		localized:   "Umzug im ERP angelegt",
		endpoint:    "createMoveByContractId",
		params:      "moveDate={isoMoveDate};zip={zip}",
		attachments: []attachmentKind{letterPDF},
	},
	{
		label: "Kündigung", tag: 4,
		subjects: []string{"Kündigung meines Vertrags", "Kündigung zum {endDate}", "Sonderkündigung wegen Preiserhöhung", "Vertrag {contract} kündigen"},
		requests: []string{
			"hiermit kündige ich meinen Vertrag {contract} fristgerecht zum {endDate}. Bitte bestätigen Sie mir die Kündigung schriftlich.",
			"aufgrund der angekündigten Preiserhöhung mache ich von meinem Sonderkündigungsrecht Gebrauch und kündige zum {endDate}.",
			"ich möchte meinen Vertrag zum nächstmöglichen Zeitpunkt kündigen und bitte um eine Bestätigung mit dem Lieferende.",
		},
		replies: []string{
			"wir bestätigen die Kündigung Ihres Vertrags {contract} zum {endDate}. Ihre Schlussrechnung erhalten Sie nach dem Lieferende.",
			"schade, dass Sie uns verlassen möchten. Gerne bieten wir Ihnen unseren Tarif {tariff} zu günstigeren Konditionen an.",
		},
		notes:      []string{"Kündigung zum {endDate} erfasst, Rückgewinnungsangebot versendet.", "Kündigungsfrist geprüft: frühestens zum {endDate} möglich."},
		summary:    "Kunde kündigt den Vertrag zum {endDate}",
		intentCode: "terminate_contract", intentName: "Terminate a contract",
		options: []option{{"confirm_termination", "Kündigung bestätigen", "check"}, {"retention_offer", "Halteangebot senden", "gift"}, ignoreOption},
		infos: []info{
			{"NOTICE_PERIOD", "info", "Kündigungsfrist: 4 Wochen", "Frühestmögliches Vertragsende: {endDate}."},
			{"MIN_TERM", "warning", "Mindestlaufzeit noch nicht erreicht", "Sonderkündigungsrecht nur bei Preisänderung."},
		},
		preview:     "Wir bestätigen Ihre Kündigung zum {endDate}.",
		localized:   "Kündigung im ERP erfasst",
		endpoint:    "terminateContract",
		params:      "endDate={isoEndDate}",
		attachments: []attachmentKind{letterPDF},
	},
	{
		label: "Rechnung", tag: 5,
		subjects: []string{"Frage zur Rechnung {invoice}", "Rechnung nicht nachvollziehbar", "Jahresabrechnung {year}", "Nachzahlung zu hoch?"},
		requests: []string{
			"ich habe meine Jahresabrechnung {invoice} erhalten und verstehe die Nachzahlung von {amount} nicht. Können Sie mir die Berechnung erklären?",
			"in der Rechnung {invoice} wurde ein falscher Zählerstand verwendet. Der richtige Wert ist {reading} kWh.",
			"bitte senden Sie mir eine Kopie der Rechnung {invoice} zu, ich finde sie nicht mehr.",
		},
		replies: []string{
			"die Nachzahlung von {amount} ergibt sich aus dem gestiegenen Verbrauch von {consumption} kWh im Abrechnungszeitraum.",
			"wir haben die Rechnung {invoice} mit dem korrigierten Zählerstand neu erstellt. Die Gutschrift von {amount} verrechnen wir mit dem nächsten Abschlag.",
		},
		notes:      []string{"Rechnungskorrektur beauftragt, Zählerstand {reading} kWh.", "Rechnung {invoice} geprüft, Berechnung korrekt."},
		summary:    "Rückfrage zur Rechnung {invoice}",
		intentCode: "explain_invoice", intentName: "Explain an invoice",
		options: []option{{"explain_invoice", "Rechnung erklären", "check"}, {"correct_invoice", "Rechnung korrigieren", "edit"}, ignoreOption},
		infos: []info{
			{"INVOICE_FOUND", "info", "Rechnung {invoice} gefunden", "Abrechnungszeitraum: 12 Monate."},
			{"HIGH_BACKPAYMENT", "warning", "Nachzahlung über 20 % des Jahresbetrags", "Nachzahlung: {amount}."},
		},
		preview:     "Hier ist die Erläuterung zu Ihrer Rechnung {invoice}.",
		localized:   "Rechnung aus dem ERP geladen",
		endpoint:    "getInvoiceById",
		params:      "invoiceId={invoice}",
		attachments: []attachmentKind{invoicePDF, invoicePDF, screenshot},
	},
	{
		label: "Tarifwechsel", tag: 6,
		subjects: []string{"Tarifwechsel", "Wechsel in den Tarif {tariff}", "Günstigerer Tarif möglich?", "Anderer Tarif gewünscht"},
		requests: []string{
			"ich würde gerne in den Tarif {tariff} wechseln. Ist das zum {date} möglich?",
			"gibt es für mich einen günstigeren Tarif? Mein Verbrauch liegt bei etwa {consumption} kWh im Jahr.",
			"mein Vertrag läuft bald aus. Ich möchte danach gerne in Ihren Tarif {tariff} wechseln.",
		},
		replies: []string{
			"Ihr Wechsel in den Tarif {tariff} zum {date} ist vorgemerkt. Die neuen Preise finden Sie in der beigefügten Vertragsbestätigung.",
			"bei einem Verbrauch von {consumption} kWh wäre der Tarif {tariff} für Sie am günstigsten.",
		},
		notes:      []string{"Tarifwechsel auf {tariff} angelegt.", "Kunde hat Bonusanspruch, Wechsel erst nach Ablauf der Mindestlaufzeit."},
		summary:    "Wunsch nach einem Wechsel in den Tarif {tariff}",
		intentCode: "change_tariff", intentName: "Change the tariff",
		options: []option{{"change_tariff", "Tarif wechseln", "check"}, {"send_offer", "Angebot senden", "mail"}, ignoreOption},
		infos: []info{
			{"BONUS_LOSS", "warning", "Neukundenbonus entfällt bei Wechsel", "Bonus: {amount}."},
		},
		preview:     "Ihr Wechsel in den Tarif {tariff} ist vorgemerkt.",
		localized:   "Produktwechsel im ERP angelegt",
		endpoint:    "changeProductByContractId",
		params:      "productCode={productCode};validFrom={isoDate}",
		attachments: []attachmentKind{confirmationPDF},
	},
	{
		label: "Bankverbindung", tag: 7,
		subjects: []string{"Neue Bankverbindung", "Änderung SEPA-Lastschriftmandat", "Kontoänderung", "Bitte neue IBAN verwenden"},
		requests: []string{
			"ab sofort buchen Sie die Abschläge bitte von meinem neuen Konto ab. Die IBAN lautet {iban}.",
			"ich habe die Bank gewechselt. Meine neue Bankverbindung: IBAN {iban}, Kontoinhaber {first} {last}.",
			"bitte buchen Sie nicht mehr per Lastschrift ab, ich überweise künftig selbst.",
		},
		replies: []string{
			"wir haben Ihre neue Bankverbindung (IBAN endet auf {ibanTail}) hinterlegt. Die nächste Abbuchung erfolgt zum {date}.",
			"Ihr SEPA-Lastschriftmandat wurde aktualisiert. Die Mandatsreferenz finden Sie im Kundenportal.",
		},
		notes:      []string{"IBAN geprüft (Prüfziffer korrekt) und im ERP hinterlegt.", "Mandatsreferenz neu erzeugt, Lastschrift ab {date}."},
		summary:    "Neue Bankverbindung für den Abschlagseinzug",
		intentCode: "update_bank_details", intentName: "Update bank details",
		options: []option{{"update_iban", "IBAN ändern", "check"}, {"request_mandate", "Mandat anfordern", "mail"}, ignoreOption},
		infos: []info{
			{"IBAN_VALID", "info", "IBAN ist gültig", "Prüfziffer korrekt."},
			{"ACCOUNT_HOLDER_DIFFERS", "warning", "Kontoinhaber weicht vom Vertragspartner ab", ""},
		},
		preview:     "Wir haben Ihre neue Bankverbindung hinterlegt.",
		localized:   "Bankverbindung im ERP geändert",
		endpoint:    "updateBankAccount",
		params:      "iban={ibanMasked}",
		attachments: []attachmentKind{letterPDF},
	},
	{
		label: "Mahnung", tag: 8,
		subjects: []string{"Mahnung erhalten", "Zahlungserinnerung – Bitte um Ratenzahlung", "Offener Betrag {amount}", "Bitte um Zahlungsaufschub"},
		requests: []string{
			"ich habe eine Mahnung über {amount} erhalten. Ich kann den Betrag derzeit nicht auf einmal zahlen und bitte um eine Ratenzahlung.",
			"die Mahnung ist aus meiner Sicht unberechtigt, ich habe den Betrag von {amount} am {date} überwiesen.",
			"können Sie mir die Zahlung von {amount} bis zum {date} stunden?",
		},
		replies: []string{
			"wir bieten Ihnen eine Ratenzahlung in drei Monatsraten zu je {amount} an.",
			"Ihre Zahlung vom {date} ist inzwischen eingegangen, die Mahnung ist damit erledigt.",
		},
		notes:      []string{"Zahlungseingang geprüft, Mahnsperre bis {date} gesetzt.", "Ratenplan über drei Monate angelegt."},
		summary:    "Kunde bittet um Ratenzahlung für {amount}",
		intentCode: "payment_plan", intentName: "Offer a payment plan",
		options: []option{{"create_payment_plan", "Ratenplan anlegen", "check"}, {"set_dunning_block", "Mahnsperre setzen", "pause"}, ignoreOption},
		infos: []info{
			{"OPEN_ITEMS", "warning", "Offene Posten vorhanden", "Summe: {amount}."},
		},
		preview:   "Wir bieten Ihnen eine Ratenzahlung an.",
		localized: "Ratenplan im ERP angelegt",
		endpoint:  "createInstallmentPlan",
		params:    "amount={amountNum};installments=3",
	},
	{
		label: "Lieferbeginn", tag: 9,
		subjects: []string{"Wann beginnt die Belieferung?", "Vertragsbestätigung fehlt", "Status meines Wechsels", "Lieferbeginn"},
		requests: []string{
			"ich habe vor drei Wochen einen Vertrag abgeschlossen, aber noch keine Bestätigung erhalten. Wann beginnt die Belieferung?",
			"können Sie mir den Stand meines Anbieterwechsels mitteilen? Mein alter Vertrag endet am {date}.",
		},
		replies: []string{
			"Ihre Belieferung beginnt am {startDate}. Die Vertragsbestätigung haben wir Ihnen heute erneut zugesandt.",
			"Ihr bisheriger Lieferant hat die Kündigung bestätigt; wir beliefern Sie ab dem {startDate}.",
		},
		notes:      []string{"Wechselprozess beim Netzbetreiber angestoßen.", "Lieferbeginn {startDate} durch den Netzbetreiber bestätigt."},
		summary:    "Anfrage zum Lieferbeginn",
		intentCode: "delivery_start_info", intentName: "Inform about the delivery start",
		options: []option{{"send_status", "Status senden", "check"}, ignoreOption},
		infos: []info{
			{"SUPPLY_CONFIRMED", "info", "Lieferbeginn bestätigt", "Lieferbeginn: {startDate}."},
		},
		preview:     "Ihre Belieferung beginnt am {startDate}.",
		localized:   "Lieferstatus aus dem ERP geladen",
		endpoint:    "getSupplyStatus",
		params:      "contractId={contract}",
		attachments: []attachmentKind{confirmationPDF},
	},
	{
		label: "Beschwerde", tag: tagComplaint,
		subjects: []string{"Beschwerde", "Keine Antwort auf meine E-Mails", "Unzufrieden mit dem Service", "Beschwerde über die Preiserhöhung"},
		requests: []string{
			"ich habe Ihnen bereits dreimal geschrieben und keine Antwort erhalten. Das ist inakzeptabel!",
			"die Preiserhöhung zum {date} halte ich für ungerechtfertigt. Bitte erklären Sie mir die Gründe.",
			"Ihr Mitarbeiter am Telefon war sehr unfreundlich. Ich erwarte eine Entschuldigung.",
		},
		replies: []string{
			"es tut uns leid, dass Sie mit unserem Service nicht zufrieden waren. Wir haben Ihr Anliegen an die zuständige Fachabteilung weitergeleitet.",
			"die Preisanpassung zum {date} beruht auf gestiegenen Netzentgelten und Beschaffungskosten. Als Entschuldigung schreiben wir Ihnen {amount} gut.",
		},
		notes:      []string{"Beschwerde an Second Level eskaliert.", "Kulanzgutschrift über {amount} freigegeben."},
		summary:    "Beschwerde des Kunden",
		intentCode: "handle_complaint", intentName: "Handle a complaint",
		options: []option{{"escalate", "Eskalieren", "arrowUp"}, {"send_apology", "Entschuldigung senden", "mail"}, ignoreOption},
		infos: []info{
			{"REPEATED_CONTACT", "warning", "Dritter Kontakt in 14 Tagen", "Eskalation empfohlen."},
		},
		preview:   "Es tut uns leid, dass Sie nicht zufrieden waren.",
		localized: "Beschwerde im CRM dokumentiert",
		endpoint:  "createComplaint",
		params:    "category=service;contractId={contract}",
	},
}

// greetings open a customer's message; the request text that follows starts lower-case.
var greetings = []string{"Sehr geehrte Damen und Herren,", "Hallo,", "Guten Tag,", "Sehr geehrter Kundenservice,", "Liebes Service-Team,"}

// closings end a customer's message, before the name.
var closings = []string{"Mit freundlichen Grüßen", "Viele Grüße", "Danke im Voraus und beste Grüße", "Freundliche Grüße", "Ich danke Ihnen,"}

// postscripts are sometimes added to a customer's message; they contain characters that HTML
// must escape.
var postscripts = []string{
	"P.S.: Bitte leiten Sie das an die Abteilung „Strom & Gas“ weiter.",
	"P.S.: Mein Verbrauch liegt seit dem Umbau bei < 2000 kWh im Jahr.",
	"P.S.: Sie erreichen mich werktags ab 17 Uhr unter der bekannten Nummer.",
}

// templates are the reply templates the desk offers; %MESSAGE% is replaced by the reply.
var templates = []string{
	"<p>Hallo {{customer.firstname}},</p><p>%MESSAGE%</p><p>Viele Grüße,<br>{{agent.firstName}}</p>",
	"<p>Guten Tag {{customer.firstname}} {{customer.lastname}},</p><p>%MESSAGE%</p><p>Mit freundlichen Grüßen<br>Ihr Kundenservice der Musterwerke</p>",
	"<p>Sehr geehrte Kundin, sehr geehrter Kunde,</p><p>%MESSAGE%</p><p>Freundliche Grüße<br>{{agent.firstName}} {{agent.lastName}}</p>",
}

// knowledge is an FAQ article an intent's outcome may cite.
type knowledge struct {
	id         int
	name, text string
}

// knowledgeSources are the supplier's FAQ articles. None has the id of the example's source,
// 376189 ("Opening hours"), which is another article.
var knowledgeSources = []knowledge{
	{376173, "Öffnungszeiten", "Unser Kundenservice ist werktags von 8 bis 17 Uhr erreichbar. Am Wochenende sind wir geschlossen. [...]"},
	{376201, "Zählerstand übermitteln", "Sie können Ihren Zählerstand jederzeit im Kundenportal, per E-Mail oder per Post übermitteln. [...]"},
	{376245, "Abschlag ändern", "Ihren monatlichen Abschlag können Sie einmal pro Quartal anpassen. [...]"},
	{376302, "Umzug melden", "Bitte teilen Sie uns Ihren Umzug mindestens zwei Wochen vorher mit. [...]"},
	{376355, "Kündigungsfristen", "Die Kündigungsfrist beträgt vier Wochen zum Ende der Mindestlaufzeit. [...]"},
	{376410, "SEPA-Lastschrift", "Für den Einzug per Lastschrift benötigen wir ein SEPA-Mandat. [...]"},
}

// legitimation pairs a customerLegitimation level with its message; docs/upstream.md lists the
// levels under "Known values".
type legitimation struct {
	level   int
	message string
}

// legitimations cover each documented band: 0 not recognised, 10-19 recognised but not
// legitimated, 20 identified automatically, 30 confirmed manually.
var legitimations = []legitimation{
	{0, "Customer could not be identified"},
	{10, "Customer recognised by email address, not legitimated"},
	{15, "Customer recognised by name and address, not legitimated"},
	{20, "Customer identified automatically"},
	{30, "Customer confirmed manually"},
}
