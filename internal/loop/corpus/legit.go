package corpus

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Legitimate traces: every kind the loop-detection issue says must not fire.

func legitKinds() []kindSpec {
	return []kindSpec{
		{"long_chat", LabelLegit, 40, genLongChat},
		{"batch_template", LabelLegit, 44, genBatch},
		{"n_samples", LabelLegit, 16, genNSamples},
		{"popular_prompt", LabelLegit, 40, genPopular},
		{"agent_progress", LabelLegit, 50, genAgentProgress},
		{"transient_retry", LabelLegit, 20, genTransientRetry},
	}
}

var followUps = []string{
	"continue", "go on", "Thanks! Can you go into more detail?", "why?", "Can you give an example?", "ok", "shorter please",
	"What would you do differently?", "And the opposite case?", "Great, what's next?", "Can you summarize that in two lines?",
}

// genLongChat: a multi-turn chat, often under a big shared system prompt,
// with human pauses; sometimes follow-ups as short as "continue".
func genLongChat(b *builder) {
	rng := b.rng
	a := pickAPI(rng, true)
	t := pick(rng, topics)
	c := newConvo(rng, a)
	c.msgs = []msg{{role: "system", text: t.systemPrompt(rng, rng.IntN(5) < 3)}}
	for turn := range 5 + rng.IntN(7) {
		q := t.question(rng)
		if turn > 0 && rng.IntN(3) == 0 {
			q = pick(rng, followUps)
		}
		if rng.IntN(6) == 0 { // people change the subject
			t = pick(rng, topics)
		}
		c.msgs = append(c.msgs, msg{role: "user", text: q})
		b.send(a.endpoint(), c.body(rng), 8*time.Second, 60*time.Second)
		c.msgs = append(c.msgs, msg{role: "assistant", text: t.answer(rng)})
	}
}

var (
	brands   = words("Acme Northwind Contoso Fabrikam Tailspin Litware Proseware Adatum Wingtip Lamna Trey Woodgrove Alpine Fourth-Coffee Blue-Yonder Relecloud")
	variants = words("black white red navy olive sand graphite small medium large XL travel-size refill twin-pack")
)

var langs = words("French German Spanish Japanese Portuguese Italian Korean Turkish Polish Dutch")

// batchJob is one template and its inputs.
type batchJob struct {
	system   string
	render   func(rng *rand.Rand) string // the user message for the next input
	json     bool
	tempZero bool
}

func newBatch(rng *rand.Rand) batchJob {
	t := pick(rng, topics)
	switch rng.IntN(9) {
	case 0: // classification with instructions in the system prompt
		return batchJob{system: fmt.Sprintf("Classify the sentiment of the customer review as positive, negative or mixed. Reply with one word. %s", t.sentence(rng)),
			render: func(rng *rand.Rand) string { return t.paragraph(rng, 1+rng.IntN(3)) }, tempZero: true}
	case 1: // summarisation, template in the user message
		return batchJob{render: func(rng *rand.Rand) string {
			return fmt.Sprintf("Summarize the following %s in %d bullet points for a busy manager:\n\n%s", pick(rng, words("article report email thread meeting-transcript")), 2+rng.IntN(3), t.paragraph(rng, 4+rng.IntN(5)))
		}}
	case 2: // translation of short sentences
		lang := pick(rng, langs)
		return batchJob{system: "You are a professional translator.", render: func(rng *rand.Rand) string {
			return fmt.Sprintf("Translate the following sentence into %s. Keep names and numbers unchanged.\n\n%s", lang, pick(rng, topics).sentence(rng))
		}, tempZero: true}
	case 3: // extraction from small records
		return batchJob{render: func(rng *rand.Rand) string {
			first, last := pick(rng, names), pick(rng, names)
			company := pick(rng, words("Acme Globex Initech Umbrella Hooli Vandelay Wonka Soylent Tyrell Cyberdyne"))
			return fmt.Sprintf("Extract the person's name, job title, email address and company from this signature as JSON.\n\n%s %s\n%s %s at %s\n%s.%s@%s.com\n+1 (555) %03d-%04d",
				first, last, title(pick(rng, t.adjs)), pick(rng, words("Engineer Manager Director Analyst Designer Consultant")), company,
				strings.ToLower(first), strings.ToLower(last), strings.ToLower(company), rng.IntN(1000), rng.IntN(10000))
		}, json: true}
	case 4: // few-shot multiple-choice evaluation: long template, short question
		var ex strings.Builder
		for i := range 4 {
			et := pick(rng, topics)
			fmt.Fprintf(&ex, "Question: %s\nA) %s B) %s C) %s D) %s\nAnswer: %c\n\n", et.question(rng), pick(rng, et.nouns), pick(rng, et.nouns), pick(rng, et.nouns), pick(rng, et.nouns), 'A'+i%4)
		}
		head := "Answer the multiple-choice question with a single letter.\n\n" + ex.String()
		return batchJob{render: func(rng *rand.Rand) string {
			qt := pick(rng, topics)
			return fmt.Sprintf("%sQuestion: %s %s\nA) %s B) %s C) %s D) %s\nAnswer:", head, pick(rng, qt.questionStems), strings.TrimSuffix(qt.sentence(rng), "."),
				pick(rng, qt.nouns), pick(rng, qt.nouns), pick(rng, qt.adjs), pick(rng, qt.verbs))
		}, tempZero: true}
	case 5: // product descriptions from catalogue rows
		return batchJob{system: "You write concise, factual e-commerce copy.", render: func(rng *rand.Rand) string {
			return fmt.Sprintf("Write a two-sentence product description for \"%s %s %s\" in the %s category. Price: $%d.%02d. Highlight: %s.",
				title(pick(rng, t.adjs)), pick(rng, t.nouns), pick(rng, words("set kit bundle pack edition tool")), t.name, 5+rng.IntN(200), rng.IntN(100), t.sentence(rng))
		}}
	case 7: // catalogue rows: only a short product name changes
		aud := pick(rng, words("students parents gamers travelers developers gardeners runners"))
		return batchJob{system: "You write concise, factual e-commerce copy.", render: func(rng *rand.Rand) string {
			return fmt.Sprintf("Write a 50-word SEO description for the product below.\nProduct: %s %s %s, %s\nTone: friendly\nAudience: %s\nDo not mention competitors or prices.",
				pick(rng, brands), title(pick(rng, t.adjs)), pick(rng, t.nouns), pick(rng, variants), aud)
		}, tempZero: true}
	default: // intent classification in JSON mode
		return batchJob{system: `Classify the intent of the support message. Answer as JSON: {"intent": "refund" | "shipping" | "account" | "other", "confidence": number}.`,
			render: func(rng *rand.Rand) string { return topics[11].question(rng) }, json: true, tempZero: true}
	}
}

// title capitalises the first letter of an ASCII word.
func title(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// genBatch: a batch or evaluation job: one template, many different inputs,
// sent as fast as the rate limit allows.
func genBatch(b *builder) {
	rng := b.rng
	a := pickAPI(rng, false)
	job := newBatch(rng)
	c := newConvo(rng, a)
	if job.tempZero {
		c.params["temperature"] = 0
	}
	if job.json && a == apiChat {
		c.params["response_format"] = map[string]any{"type": "json_object"}
	}
	for range 20 + rng.IntN(21) {
		c.msgs = c.msgs[:0]
		if job.system != "" {
			c.msgs = append(c.msgs, msg{role: "system", text: job.system})
		}
		c.msgs = append(c.msgs, msg{role: "user", text: job.render(rng)})
		b.send(a.endpoint(), c.body(rng), 100*time.Millisecond, 1500*time.Millisecond)
	}
}

// genNSamples: prompts sent once each with n > 1 (best-of sampling), one of
// them sometimes resent once.
func genNSamples(b *builder) {
	rng := b.rng
	t := pick(rng, topics)
	c := newConvo(rng, apiChat)
	c.params["n"] = 2 + rng.IntN(9)
	c.params["temperature"] = 1
	var last []byte
	for i := range 2 + rng.IntN(5) {
		if i > 0 && rng.IntN(4) == 0 {
			b.send(EndpointChat, last, time.Second, 10*time.Second)
			continue
		}
		c.msgs = []msg{{role: "system", text: t.systemPrompt(rng, false)}, {role: "user", text: t.question(rng)}}
		last = c.body(rng)
		b.send(EndpointChat, last, time.Second, 10*time.Second)
	}
}

var popular = []struct{ system, user string }{
	{"You are a helpful assistant.", "Write a haiku about autumn."},
	{"You are a helpful assistant.", "What's a good name for a golden retriever puppy?"},
	{"You are ShopAssist, the customer support agent of an online store. Be concise and friendly.", "Where is my order?"},
	{"", "Explain quantum computing in simple terms."},
	{"You are a helpful assistant.", "Give me a simple recipe for dinner tonight with chicken and rice."},
}

// genPopular: one of many clients sending the same popular prompt at about
// the same time (each trace is one client; detection is per client).
func genPopular(b *builder) {
	rng := b.rng
	p := popular[b.index%len(popular)]
	a := pickAPI(rng, false)
	c := &convo{api: a, model: pick(rng, []string{"gpt-4o-mini", "gpt-4o-mini", "gpt-4.1-mini"}), params: map[string]any{}}
	if a != apiChat {
		c.model = "gpt-5-mini"
	}
	if p.system != "" {
		c.msgs = append(c.msgs, msg{role: "system", text: p.system})
	}
	c.msgs = append(c.msgs, msg{role: "user", text: p.user})
	b.send(a.endpoint(), c.body(rng), 2*time.Second, 30*time.Second)
	if rng.IntN(2) == 0 {
		t := pick(rng, topics)
		c.msgs = append(c.msgs, msg{role: "assistant", text: t.answer(rng)}, msg{role: "user", text: pick(rng, followUps)})
		b.send(a.endpoint(), c.body(rng), 2*time.Second, 30*time.Second)
	}
}

// genAgentProgress: an agent making steady progress with different calls,
// sometimes two at once; it ends with an answer.
func genAgentProgress(b *builder) {
	rng := b.rng
	a := pickAPI(rng, true)
	sc := pick(rng, scenarios)
	c := agentConvo(rng, sc, a)
	b.send(a.endpoint(), c.body(rng), time.Second, 6*time.Second)
	steps := sc.progress(rng, 7+rng.IntN(8))
	for i := 0; i < len(steps); i++ {
		s := steps[i]
		if i+1 < len(steps) && rng.IntN(5) == 0 { // parallel tool calls
			s2 := steps[i+1]
			i++
			id1, id2 := callID(rng), callID(rng)
			c.msgs = append(c.msgs,
				msg{role: "assistant", text: pick(rng, thinking), calls: []call{{id1, s.name, s.args}, {id2, s2.name, s2.args}}},
				msg{role: "tool", callID: id1, text: s.output}, msg{role: "tool", callID: id2, text: s2.output})
		} else {
			c.addStep(rng, s, pick(rng, thinking))
		}
		b.send(a.endpoint(), c.body(rng), time.Second, 6*time.Second)
	}
}

// genTransientRetry: a request retried a few times after rate-limit or
// server errors, then the client moves on.
func genTransientRetry(b *builder) {
	rng := b.rng
	a := pickAPI(rng, false)
	t := pick(rng, topics)
	c := newConvo(rng, a)
	sys := t.systemPrompt(rng, rng.IntN(2) == 0)
	for range 3 + rng.IntN(6) {
		q := t.question(rng)
		c.msgs = []msg{{role: "system", text: sys}, {role: "user", text: q}}
		body := c.body(rng)
		b.send(a.endpoint(), body, 500*time.Millisecond, 4*time.Second)
		for k := range rng.IntN(4) { // 429s and 500s: up to 3 retries
			if rng.IntN(3) == 0 {
				c.msgs[1].text = fmt.Sprintf("Attempt %d: %s", k+2, q)
				body = c.body(rng)
			}
			b.send(a.endpoint(), body, time.Second, 8*time.Second)
		}
	}
}
