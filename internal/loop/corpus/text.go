package corpus

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// A small generative grammar: enough varied, topical prose that two generated
// turns differ the way two real ones do, without shipping a text corpus.

type topic struct {
	name                string
	nouns, verbs, adjs  []string
	people, places      []string
	questionStems       []string
	systemRole, product string
}

func words(s string) []string { return strings.Fields(s) }

var topics = []topic{
	{name: "cooking", nouns: words("sauce risotto oven dough pan broth garlic onion recipe butter flour yeast skillet marinade crust stock glaze thermometer knife batch"),
		verbs:         words("simmer reduce knead season roast fold whisk braise proof chill sear strain caramelize bake blanch"),
		adjs:          words("crispy tender smoky bitter creamy golden rich tangy silky rustic fresh dense"),
		questionStems: []string{"How long should I", "What is the best way to", "Why does my recipe fail when I", "Can I substitute something when I"},
		systemRole:    "a friendly culinary assistant for home cooks", product: "KitchenPal"},
	{name: "travel", nouns: words("itinerary flight hostel visa museum ferry train passport neighborhood market beach trail layover budget luggage guidebook"),
		verbs:         words("book visit explore pack cancel reschedule plan compare reserve tour hike"),
		adjs:          words("affordable scenic crowded quiet historic remote walkable overnight direct seasonal"),
		places:        words("Lisbon Kyoto Oaxaca Tbilisi Hanoi Porto Bergen Cusco Marrakesh Ljubljana Valparaiso Chiang-Mai"),
		questionStems: []string{"What should I know before I", "Is it worth it to", "How early do I need to", "What is the cheapest way to"},
		systemRole:    "a travel planning assistant", product: "TripMate"},
	{name: "finance", nouns: words("budget invoice mortgage portfolio dividend expense receipt ledger forecast payroll refund subscription tax deduction account"),
		verbs:         words("reconcile forecast allocate invest deduct refinance audit categorize track approve transfer"),
		adjs:          words("quarterly annual recurring variable fixed overdue net gross deductible projected"),
		questionStems: []string{"How do I", "What happens if I", "Should I", "What is the rule when I"},
		systemRole:    "a careful personal finance assistant", product: "LedgerLy"},
	{name: "golang", nouns: words("goroutine channel context mutex interface struct slice map benchmark module handler middleware deadline buffer allocation closure"),
		verbs:         words("cancel refactor profile benchmark deadlock serialize marshal embed propagate wrap close drain"),
		adjs:          words("concurrent idiomatic exported nil buffered blocking generic typed leaky"),
		questionStems: []string{"How do I", "Why does my code panic when I", "What is the idiomatic way to", "Is it safe to"},
		systemRole:    "a senior Go engineer who reviews code", product: "GoHelper"},
	{name: "python", nouns: words("dataframe decorator generator virtualenv package fixture dictionary exception coroutine notebook wheel dependency iterator traceback"),
		verbs:         words("install import vectorize patch mock parse pickle await pin groupby merge"),
		adjs:          words("async lazy mutable pandas typed legacy pinned vectorized"),
		questionStems: []string{"How can I", "Why does pytest fail when I", "What is the fastest way to", "How do I avoid errors when I"},
		systemRole:    "a Python tutor", product: "PyBuddy"},
	{name: "kubernetes", nouns: words("pod deployment ingress node namespace secret configmap probe sidecar volume replica service cluster helm-chart autoscaler"),
		verbs:         words("deploy scale drain rollback expose mount schedule evict restart upgrade cordon"),
		adjs:          words("stateful pending crashlooping healthy unschedulable rolling private managed"),
		questionStems: []string{"How do I", "Why can't I", "What's the safest way to", "What breaks if I"},
		systemRole:    "a platform engineering assistant", product: "KubeGuide"},
	{name: "marketing", nouns: words("campaign newsletter audience funnel landing-page headline persona conversion brand slogan webinar backlink keyword"),
		verbs:         words("launch segment optimize rewrite target promote announce measure test retarget"),
		adjs:          words("catchy seasonal organic paid viral concise playful premium niche"),
		questionStems: []string{"Can you help me", "How should we", "What is a good way to", "Give me ideas to"},
		systemRole:    "a marketing copywriter", product: "BrandBoost"},
	{name: "health", nouns: words("sleep workout stretch posture hydration protein injury routine marathon knee shoulder habit diet"),
		verbs:         words("stretch rest train recover strengthen hydrate warm-up track improve"),
		adjs:          words("gentle intense daily sore balanced sustainable low-impact restful"),
		questionStems: []string{"What is a safe way to", "How often should I", "Is it normal to feel sore after I", "How do I start to"},
		systemRole:    "a wellness coach (not a doctor)", product: "FitCoach"},
	{name: "history", nouns: words("empire treaty dynasty revolution manuscript trade-route siege parliament guild reform colony archive chronicle"),
		verbs:         words("collapse negotiate conquer reform document unify rebel trade"),
		adjs:          words("medieval ancient colonial industrial maritime feudal imperial"),
		people:        words("Hypatia Ashoka Suleiman Elizabeth Bolivar Meiji Toussaint Cleopatra"),
		questionStems: []string{"Why did", "How did people", "What caused them to", "Explain how rulers would"},
		systemRole:    "a history teacher", product: "ChronoTutor"},
	{name: "physics", nouns: words("momentum entropy wavelength circuit capacitor orbit friction lens magnet photon pendulum voltage spectrum"),
		verbs:         words("accelerate measure oscillate refract conserve radiate calculate charge"),
		adjs:          words("elastic thermal quantum relativistic linear damped kinetic"),
		questionStems: []string{"Why does", "How do I calculate what happens when I", "What would change if we", "Explain why we"},
		systemRole:    "a physics tutor", product: "PhysiQ"},
	{name: "gardening", nouns: words("tomato compost seedling mulch soil trellis aphid pruner basil raised-bed greenhouse fertilizer root"),
		verbs:         words("prune transplant water mulch fertilize harvest sow repot"),
		adjs:          words("acidic shady drought-tolerant leggy yellowing perennial heirloom"),
		questionStems: []string{"When should I", "Why are my plants dying after I", "How much should I", "Is it too late to"},
		systemRole:    "a gardening expert", product: "GreenThumb"},
	{name: "support", nouns: words("order refund shipment invoice password subscription warranty account tracking-number coupon delivery replacement"),
		verbs:         words("cancel return reset upgrade downgrade track exchange update verify"),
		adjs:          words("damaged late duplicate expired missing wrong defective"),
		questionStems: []string{"How do I", "I want to", "Why can't I", "Please help me"},
		systemRole:    "the customer support agent of an online store", product: "ShopAssist"},
	{name: "data", nouns: words("query table index dashboard metric cohort pipeline schema partition join warehouse churn retention funnel"),
		verbs:         words("aggregate filter join backfill partition deduplicate visualize pivot sample"),
		adjs:          words("weekly stale normalized skewed incremental denormalized sparse"),
		questionStems: []string{"How can I", "Write SQL to", "What is wrong when I", "What's the best way to"},
		systemRole:    "a data analyst assistant", product: "QueryBot"},
	{name: "music", nouns: words("chord scale melody tempo riff metronome bridge chorus synth mixer vocal harmony groove"),
		verbs:         words("transpose practice arrange compose record mix master improvise"),
		adjs:          words("minor syncopated upbeat melancholic layered acoustic"),
		questionStems: []string{"How do I", "What's a good exercise to", "Why does it sound off when I", "Can you explain how to"},
		systemRole:    "a music theory teacher", product: "ChordCraft"},
	{name: "legal", nouns: words("contract clause lease tenant liability deposit notice agreement warranty trademark copyright invoice dispute"),
		verbs:         words("terminate renew sign review dispute draft negotiate enforce"),
		adjs:          words("binding written verbal standard unfair commercial residential"),
		questionStems: []string{"Can my landlord", "What happens if I", "Is it legal to", "How do I properly"},
		systemRole:    "a legal information assistant (not a lawyer)", product: "LawLens"},
}

var (
	fillers   = words("usually often really actually simply probably already still also mostly generally")
	connect   = []string{"because", "so", "although", "while", "unless", "and then", "but", "since", "whenever"}
	names     = words("Alice Bob Carmen Deepak Elena Farid Grace Hiro Ines Jonas Kemi Liam Maya Noor Omar Priya Quinn Rosa Sven Tara")
	templates = []string{
		"The {a} {n} should {v} before the {n2} gets {a2}.",
		"If you {v} the {n} first, the {n2} will stay {a}.",
		"Most people {f} {v} the {n} too early, {c} the {n2} needs time.",
		"A {a} {n} is easier to {v} than a {a2} {n2}.",
		"You can {v} the {n} and {v2} the {n2} in the same step.",
		"I would not {v} the {n} {c} the {n2} is {a}.",
		"Try to {v} the {n} for {num} minutes, then check the {n2}.",
		"The main problem with the {n} is that it is {f} {a}.",
		"{name} found that the {n} works better when it is {a}.",
		"There are {num} ways to {v} a {n}, and the {a} one is {f} best.",
		"Keep the {n} {a}, {c} otherwise the {n2} will not {v}.",
		"In my experience the {n} matters more than the {n2}.",
		"Before you {v} anything, write down what the {n} looks like.",
		"A common mistake is to {v} the {a} {n} without a {n2}.",
		"The {n2} depends on how you {v} the {n}.",
		"For a {a} result, {v} the {n} and leave the {n2} alone.",
		"It helps to compare the {n} with a {a} {n2} first.",
		"Nobody expects the {n} to {v} on its own.",
	}
)

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func (t topic) fill(rng *rand.Rand, tmpl string) string {
	r := strings.NewReplacer(
		"{n2}", pick(rng, t.nouns), "{n}", pick(rng, t.nouns),
		"{v2}", pick(rng, t.verbs), "{v}", pick(rng, t.verbs),
		"{a2}", pick(rng, t.adjs), "{a}", pick(rng, t.adjs),
		"{f}", pick(rng, fillers), "{c}", pick(rng, connect),
		"{num}", fmt.Sprint(2+rng.IntN(9)), "{name}", pick(rng, names),
	)
	return r.Replace(tmpl)
}

// sentence is one generated sentence about t.
func (t topic) sentence(rng *rand.Rand) string { return t.fill(rng, pick(rng, templates)) }

// paragraph joins n sentences.
func (t topic) paragraph(rng *rand.Rand, n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = t.sentence(rng)
	}
	return strings.Join(s, " ")
}

// question is a user question about t, with some context.
func (t topic) question(rng *rand.Rand) string {
	q := fmt.Sprintf("%s %s the %s %s?", pick(rng, t.questionStems), pick(rng, t.verbs), pick(rng, t.adjs), pick(rng, t.nouns))
	switch rng.IntN(4) {
	case 0:
		return q
	case 1:
		return t.sentence(rng) + " " + q
	case 2:
		return q + " " + t.paragraph(rng, 1+rng.IntN(2))
	default:
		return fmt.Sprintf("Context: %s\n\n%s", t.paragraph(rng, 2+rng.IntN(3)), q)
	}
}

// answer is an assistant reply: prose, sometimes a numbered list.
func (t topic) answer(rng *rand.Rand) string {
	var b strings.Builder
	b.WriteString(t.paragraph(rng, 2+rng.IntN(3)))
	if rng.IntN(2) == 0 {
		b.WriteString("\n\n")
		for i := range 2 + rng.IntN(4) {
			fmt.Fprintf(&b, "%d. %s\n", i+1, t.sentence(rng))
		}
	}
	if rng.IntN(3) == 0 {
		b.WriteString("\n" + t.paragraph(rng, 1+rng.IntN(2)))
	}
	return b.String()
}

// systemPrompt is a product's system prompt; big adds policies and examples
// until it is several KiB, like production prompts.
func (t topic) systemPrompt(rng *rand.Rand, big bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "You are %s, %s. Answer clearly and stay on topic.", t.product, t.systemRole)
	if !big {
		return b.String()
	}
	b.WriteString("\n\n# Policies\n")
	for i := range 12 + rng.IntN(8) {
		fmt.Fprintf(&b, "%d. %s\n", i+1, t.sentence(rng))
	}
	b.WriteString("\n# Style\n- Use short paragraphs.\n- Prefer concrete steps over general advice.\n- Never invent facts; say when you are unsure.\n")
	b.WriteString("\n# Examples\n")
	for range 3 + rng.IntN(3) {
		fmt.Fprintf(&b, "User: %s\nAssistant: %s\n\n", t.question(rng), t.paragraph(rng, 2))
	}
	return b.String()
}

// id returns a random identifier with prefix, like the ones APIs mint.
func id(rng *rand.Rand, prefix string, n int) string {
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := []byte(prefix)
	for range n {
		b = append(b, alnum[rng.IntN(len(alnum))])
	}
	return string(b)
}

func hexID(rng *rand.Rand, n int) string {
	const hx = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = hx[rng.IntN(16)]
	}
	return string(b)
}

func uuid(rng *rand.Rand) string {
	h := hexID(rng, 32)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:]
}
