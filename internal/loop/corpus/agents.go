package corpus

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// An agent scenario: tools, a task, steps that make progress (each a new call
// with its result), a call that gets stuck (the same call, the same error),
// and cycles of two or three calls whose results never change.

// step is one tool call and its result.
type step struct {
	name, args, output string
}

// stuck is a repeated call whose output may carry volatile tokens (the k-th
// repetition's timestamp, request id, duration).
type stuck struct {
	name, args string
	output     func(rng *rand.Rand, k int, at time.Time) string
}

type scenario struct {
	name  string
	tools []tool
	task  func(rng *rand.Rand) string
	// progress returns n steps that each move the task forward.
	progress func(rng *rand.Rand, n int) []step
	stuck    func(rng *rand.Rand) stuck
	// cycle returns the 2 or 3 states of a ping-pong.
	cycle func(rng *rand.Rand, period int) []step
}

var (
	goPkgs   = words("auth billing cache config gateway ledger metrics notify orders quota router session storage webhook")
	goFiles  = words("handler client server store types util validate retry limits parse encode")
	idents   = words("userID orderTotal retryCount deadline buf conn cfg req resp ctx limit cursor token batch payload")
	goFuncs  = words("Load Save Parse Validate Handle Apply Refresh Flush Lookup Reserve Settle Encode Decode Close")
	goTypes  = words("Client Store Config Order Session Ledger Limit Event Rule Window")
	testErrs = []string{"want %d, got %d", "unexpected error: context deadline exceeded", "expected status 200, got %d", "mismatch at index %d", "nil pointer dereference at line %d"}
	queries  = strings.Split("rate limiting strategies|postgres vacuum tuning|http2 flow control|oauth device flow|bloom filter false positive rate|raft leader election|kafka consumer lag|css grid auto-fit|rust borrow checker errors|terraform state locking|grpc deadline propagation|redis cluster resharding|webassembly memory limits|tls session resumption|sqlite wal mode", "|")
	sites    = words("docs.example.dev blog.acme.io wiki.internal.net engineering.contoso.com notes.fabrikam.org kb.northwind.app")
	tables   = words("orders customers invoices events sessions payments products refunds subscriptions")
	columns  = words("id created_at customer_id amount_usd status country plan channel region sku quantity")
	namesps  = words("api payments search ingest web worker billing")
)

func goPath(rng *rand.Rand) string {
	return fmt.Sprintf("internal/%s/%s.go", pick(rng, goPkgs), pick(rng, goFiles))
}

// goCode is a plausible Go snippet.
func goCode(rng *rand.Rand) string {
	var b strings.Builder
	fmt.Fprintf(&b, "package %s\n\n", pick(rng, goPkgs))
	for range 1 + rng.IntN(2) {
		fn, typ, a, c := pick(rng, goFuncs), pick(rng, goTypes), pick(rng, idents), pick(rng, idents)
		fmt.Fprintf(&b, "// %s %s.\nfunc (s *%s) %s(ctx context.Context, %s int) error {\n", fn, strings.ToLower(pick(rng, topics[3].verbs))+"s the "+pick(rng, topics[3].nouns), typ, fn, a)
		fmt.Fprintf(&b, "\tif %s > s.%s {\n\t\treturn fmt.Errorf(\"%s: %%w\", Err%s)\n\t}\n", a, c, strings.ToLower(fn), typ)
		fmt.Fprintf(&b, "\ts.%s += %s\n\treturn s.%s(ctx)\n}\n\n", c, a, pick(rng, goFuncs))
	}
	return b.String()
}

func testOutput(rng *rand.Rand, pkg string, failed, passed int) string {
	var b strings.Builder
	for range failed {
		name := "Test" + pick(rng, goFuncs) + pick(rng, goTypes)
		fmt.Fprintf(&b, "--- FAIL: %s (0.%02ds)\n    %s_test.go:%d: ", name, rng.IntN(99), pick(rng, goFiles), 20+rng.IntN(300))
		fmt.Fprintf(&b, pick(rng, testErrs)+"\n", rng.IntN(500), rng.IntN(500))
	}
	if failed > 0 {
		fmt.Fprintf(&b, "FAIL\nFAIL\tgithub.com/acme/app/internal/%s\t%d.%03ds\n%d failed, %d passed", pkg, rng.IntN(5), rng.IntN(1000), failed, passed)
	} else {
		fmt.Fprintf(&b, "ok  \tgithub.com/acme/app/internal/%s\t%d.%03ds\n%d passed", pkg, rng.IntN(5), rng.IntN(1000), passed)
	}
	return b.String()
}

var coding = scenario{
	name: "coding",
	tools: []tool{
		{"read_file", "Read a file of the repository.", schema("path")},
		{"list_dir", "List a directory.", schema("path")},
		{"grep", "Search the repository with a regular expression.", schema("pattern", "path")},
		{"edit_file", "Replace old_string with new_string in a file.", schema("path", "old_string", "new_string")},
		{"run_tests", "Run the tests of a package.", schema("package")},
		{"run_command", "Run a shell command in the repository.", schema("command")},
	},
	task: func(rng *rand.Rand) string {
		return fmt.Sprintf("The %s package has failing tests after the last refactor of %s. Find the cause, fix it, and make sure `go test ./...` passes. %s",
			pick(rng, goPkgs), pick(rng, goTypes), topics[3].sentence(rng))
	},
	progress: func(rng *rand.Rand, n int) []step {
		pkg := pick(rng, goPkgs)
		failed, passed := 2+rng.IntN(4), 5+rng.IntN(20)
		var out []step
		for len(out) < n {
			switch i := len(out); {
			case i == 0:
				var files []string
				for range 4 + rng.IntN(6) {
					files = append(files, pick(rng, goFiles)+".go")
				}
				out = append(out, step{"list_dir", argsJSON("path", "internal/"+pkg), strings.Join(files, "\n")})
			case failed > 0 && i%3 == 2:
				out = append(out, step{"run_tests", argsJSON("package", "./internal/"+pkg+"/..."), testOutput(rng, pkg, failed, passed)})
				failed--
				passed++
			case i%3 == 1:
				p := goPath(rng)
				if rng.IntN(2) == 0 {
					out = append(out, step{"read_file", argsJSON("path", p), goCode(rng)})
				} else {
					pat := pick(rng, goFuncs) + "\\("
					out = append(out, step{"grep", argsJSON("pattern", pat, "path", "internal/"), fmt.Sprintf("%s:%d:\treturn s.%s(ctx)\n%s:%d:\tif err := s.%s(ctx); err != nil {", p, 10+rng.IntN(200), pat[:len(pat)-2], goPath(rng), 10+rng.IntN(200), pat[:len(pat)-2])})
				}
			default:
				p := goPath(rng)
				a, c := pick(rng, idents), pick(rng, idents)
				out = append(out, step{"edit_file", argsJSON("path", p, "old_string", fmt.Sprintf("if %s > s.%s {", a, c), "new_string", fmt.Sprintf("if %s >= s.%s {", a, c)), "Applied 1 edit to " + p})
			}
		}
		return out
	},
	stuck: func(rng *rand.Rand) stuck {
		switch p := goPath(rng); rng.IntN(4) {
		case 0:
			return stuck{"edit_file", argsJSON("path", p, "old_string", "return s."+pick(rng, goFuncs)+"(ctx)", "new_string", "return nil"),
				func(*rand.Rand, int, time.Time) string {
					return "Error: old_string not found in " + p + ". Make sure it matches the file exactly, including whitespace."
				}}
		case 1:
			return stuck{"run_command", argsJSON("command", "npm install --global "+pick(rng, words("pnpm typescript eslint prettier"))),
				func(_ *rand.Rand, _ int, at time.Time) string {
					return "npm ERR! code EACCES\nnpm ERR! syscall mkdir\nnpm ERR! path /usr/lib/node_modules\nnpm ERR! errno -13\nnpm ERR! A complete log of this run can be found in: /root/.npm/_logs/" + at.UTC().Format("2006-01-02T15_04_05_000Z") + "-debug-0.log"
				}}
		case 2:
			pkg := pick(rng, goPkgs)
			fails := testOutput(rng, pkg, 1, 7)
			return stuck{"run_tests", argsJSON("package", "./internal/"+pkg+"/..."),
				func(rng *rand.Rand, _ int, _ time.Time) string {
					// the same failure; only the timings move
					return strings.Replace(fails, "s\n", fmt.Sprintf("s (%d.%03ds wall)\n", rng.IntN(3), rng.IntN(1000)), 1)
				}}
		default:
			return stuck{"read_file", argsJSON("path", p),
				func(*rand.Rand, int, time.Time) string {
					return "Error: ENOENT: no such file or directory, open '/workspace/app/" + p + "'"
				}}
		}
	},
	cycle: func(rng *rand.Rand, period int) []step {
		p, pkg := goPath(rng), pick(rng, goPkgs)
		edit := step{"edit_file", argsJSON("path", p, "old_string", "s.mu.Lock()", "new_string", "s.mu.RLock()"), "Applied 1 edit to " + p}
		undo := step{"edit_file", argsJSON("path", p, "old_string", "s.mu.RLock()", "new_string", "s.mu.Lock()"), "Applied 1 edit to " + p}
		test := step{"run_tests", argsJSON("package", "./internal/"+pkg+"/..."), testOutput(rng, pkg, 1, 9)}
		if period == 2 {
			if rng.IntN(2) == 0 {
				return []step{edit, undo}
			}
			return []step{edit, test}
		}
		return []step{edit, test, undo}
	},
}

var research = scenario{
	name: "research",
	tools: []tool{
		{"web_search", "Search the web.", schema("query")},
		{"fetch_url", "Fetch a web page as text.", schema("url")},
		{"save_note", "Save a note for the final report.", schema("title", "text")},
	},
	task: func(rng *rand.Rand) string {
		return fmt.Sprintf("Write a short briefing on %s with three sources. %s", pick(rng, queries), pick(rng, topics).sentence(rng))
	},
	progress: func(rng *rand.Rand, n int) []step {
		var out []step
		for len(out) < n {
			t := pick(rng, topics)
			switch len(out) % 3 {
			case 0:
				q := pick(rng, queries) + " " + pick(rng, t.nouns)
				var res []string
				for range 3 {
					res = append(res, fmt.Sprintf("- %s %s (https://%s/%s-%s)\n  %s", strings.ToUpper(q[:1])+q[1:], pick(rng, t.adjs), pick(rng, sites), pick(rng, t.nouns), pick(rng, t.verbs), t.sentence(rng)))
				}
				out = append(out, step{"web_search", argsJSON("query", q), strings.Join(res, "\n")})
			case 1:
				u := fmt.Sprintf("https://%s/%s/%s-%s", pick(rng, sites), pick(rng, t.nouns), pick(rng, t.verbs), pick(rng, t.nouns))
				out = append(out, step{"fetch_url", argsJSON("url", u), t.paragraph(rng, 3+rng.IntN(3))})
			default:
				title := pick(rng, t.adjs) + " " + pick(rng, t.nouns)
				out = append(out, step{"save_note", argsJSON("title", title, "text", t.paragraph(rng, 2)), "Saved note \"" + title + "\"."})
			}
		}
		return out
	},
	stuck: func(rng *rand.Rand) stuck {
		t := pick(rng, topics)
		u := fmt.Sprintf("https://%s/%s/%s", pick(rng, sites), pick(rng, t.nouns), pick(rng, t.nouns))
		if rng.IntN(2) == 0 {
			return stuck{"fetch_url", argsJSON("url", u), func(rng *rand.Rand, _ int, at time.Time) string {
				return fmt.Sprintf("HTTP 503 Service Unavailable\ndate: %s\nretry-after: 30\nx-request-id: %s\n\nThe server is temporarily unable to service your request.", at.UTC().Format(time.RFC1123), uuid(rng))
			}}
		}
		q := pick(rng, t.adjs) + " " + pick(rng, t.nouns) + " " + pick(rng, t.verbs) + " site:" + pick(rng, sites)
		return stuck{"web_search", argsJSON("query", q), func(*rand.Rand, int, time.Time) string {
			return "No results found for \"" + q + "\". Try fewer or different keywords."
		}}
	},
	cycle: func(rng *rand.Rand, period int) []step {
		t := pick(rng, topics)
		q := pick(rng, t.adjs) + " " + pick(rng, t.nouns)
		u := fmt.Sprintf("https://%s/%s", pick(rng, sites), pick(rng, t.nouns))
		search := step{"web_search", argsJSON("query", q), fmt.Sprintf("- %s (%s)\n  %s", q, u, t.sentence(rng))}
		fetch := step{"fetch_url", argsJSON("url", u), "HTTP 403 Forbidden: automated access to this page is not allowed."}
		if period == 2 {
			return []step{search, fetch}
		}
		note := step{"save_note", argsJSON("title", q, "text", ""), "Error: text must not be empty."}
		return []step{search, fetch, note}
	},
}

var data = scenario{
	name: "data",
	tools: []tool{
		{"run_sql", "Run a read-only SQL query on the warehouse.", schema("query")},
		{"describe_table", "Show the columns of a table.", schema("table")},
	},
	task: func(rng *rand.Rand) string {
		return fmt.Sprintf("What was the %s %s by %s last quarter? %s", pick(rng, topics[12].adjs), pick(rng, words("revenue churn retention refunds signups")), pick(rng, columns), topics[12].sentence(rng))
	},
	progress: func(rng *rand.Rand, n int) []step {
		var out []step
		for len(out) < n {
			tb := pick(rng, tables)
			if len(out)%2 == 0 {
				var cols []string
				for range 4 + rng.IntN(5) {
					cols = append(cols, pick(rng, columns)+" "+pick(rng, words("bigint text numeric timestamptz boolean")))
				}
				out = append(out, step{"describe_table", argsJSON("table", tb), strings.Join(cols, "\n")})
				continue
			}
			g := pick(rng, columns)
			q := fmt.Sprintf("SELECT %s, count(*), sum(amount_usd) FROM %s WHERE created_at >= now() - interval '%d days' GROUP BY 1 ORDER BY 3 DESC LIMIT %d", g, tb, 7*(1+rng.IntN(12)), 5+rng.IntN(20))
			var rows []string
			for range 3 + rng.IntN(5) {
				rows = append(rows, fmt.Sprintf("%s | %d | %d.%02d", pick(rng, append(words("US DE FR BR IN JP pro free team enterprise web ios android"), namesps...)), rng.IntN(5000), rng.IntN(90000), rng.IntN(100)))
			}
			out = append(out, step{"run_sql", argsJSON("query", q), g + " | count | sum\n" + strings.Join(rows, "\n")})
		}
		return out
	},
	stuck: func(rng *rand.Rand) stuck {
		tb, col := pick(rng, tables), pick(rng, words("revenue_usd total_amount churned_at mrr"))
		q := fmt.Sprintf("SELECT date_trunc('month', created_at), sum(%s) FROM %s GROUP BY 1", col, tb)
		return stuck{"run_sql", argsJSON("query", q), func(*rand.Rand, int, time.Time) string {
			return fmt.Sprintf("ERROR:  column %q does not exist\nLINE 1: SELECT date_trunc('month', created_at), sum(%s) FROM %s GROUP BY 1\nHINT:  Perhaps you meant to reference the column \"%s.amount_usd\".", col, col, tb, tb)
		}}
	},
	cycle: func(rng *rand.Rand, period int) []step {
		tb := pick(rng, tables)
		desc := step{"describe_table", argsJSON("table", tb), "id bigint\ncreated_at timestamptz\namount_usd numeric\nstatus text"}
		bad := step{"run_sql", argsJSON("query", "SELECT sum(revenue) FROM "+tb), "ERROR:  column \"revenue\" does not exist"}
		if period == 2 {
			return []step{desc, bad}
		}
		return []step{desc, bad, {"run_sql", argsJSON("query", "SELECT sum(total) FROM "+tb), "ERROR:  column \"total\" does not exist"}}
	},
}

var support = scenario{
	name: "support",
	tools: []tool{
		{"lookup_order", "Look up an order by id.", schema("order_id")},
		{"check_inventory", "Check the stock of a SKU.", schema("sku")},
		{"issue_refund", "Refund an order.", schema("order_id", "amount")},
		{"send_email", "Email the customer.", schema("to", "subject", "body")},
	},
	task: func(rng *rand.Rand) string {
		return topics[11].question(rng) + " My order number is " + fmt.Sprint(100000+rng.IntN(900000)) + "."
	},
	progress: func(rng *rand.Rand, n int) []step {
		var out []step
		for len(out) < n {
			order := fmt.Sprint(100000 + rng.IntN(900000))
			switch len(out) % 3 {
			case 0:
				out = append(out, step{"lookup_order", argsJSON("order_id", order), fmt.Sprintf(`{"id":%q,"status":%q,"items":[{"sku":%q,"qty":%d}],"total":%d.%02d,"email":"%s@example.com"}`,
					order, pick(rng, words("shipped delivered processing returned")), strings.ToUpper(hexID(rng, 6)), 1+rng.IntN(3), rng.IntN(300), rng.IntN(100), strings.ToLower(pick(rng, names)))})
			case 1:
				sku := strings.ToUpper(pick(rng, topics[11].nouns)[:3]) + "-" + fmt.Sprint(rng.IntN(999))
				out = append(out, step{"check_inventory", argsJSON("sku", sku), fmt.Sprintf("%s: %d in stock at %s, next delivery in %d days", sku, rng.IntN(80), pick(rng, words("Berlin Austin Osaka Lyon")), 1+rng.IntN(14))})
			default:
				who := strings.ToLower(pick(rng, names))
				out = append(out, step{"send_email", argsJSON("to", who+"@example.com", "subject", "About your "+pick(rng, topics[11].nouns), "body", topics[11].paragraph(rng, 2)), "Email queued for " + who + "@example.com"})
			}
		}
		return out
	},
	stuck: func(rng *rand.Rand) stuck {
		order := fmt.Sprint(100000 + rng.IntN(900000))
		return stuck{"issue_refund", argsJSON("order_id", order, "amount", fmt.Sprintf("%d.%02d", 10+rng.IntN(200), rng.IntN(100))), func(rng *rand.Rand, _ int, _ time.Time) string {
			return fmt.Sprintf(`{"error":{"code":409,"message":"A refund for order %s is already pending review.","ticket":%q}}`, order, uuid(rng))
		}}
	},
	cycle: func(rng *rand.Rand, period int) []step {
		order := fmt.Sprint(100000 + rng.IntN(900000))
		look := step{"lookup_order", argsJSON("order_id", order), fmt.Sprintf(`{"id":%q,"status":"refund_pending","total":42.10}`, order)}
		ref := step{"issue_refund", argsJSON("order_id", order, "amount", "42.10"), `{"error":{"code":409,"message":"refund already pending"}}`}
		if period == 2 {
			return []step{look, ref}
		}
		return []step{look, ref, {"send_email", argsJSON("to", "", "subject", "Refund", "body", "Your refund is on its way."), "Error: invalid recipient address"}}
	},
}

var devops = scenario{
	name: "devops",
	tools: []tool{
		{"kubectl", "Run a kubectl command.", schema("args")},
		{"get_logs", "Fetch recent logs of a pod.", schema("pod", "since")},
		{"job_status", "Get the status of a batch job.", schema("job_id")},
	},
	task: func(rng *rand.Rand) string {
		return fmt.Sprintf("The %s deployment in namespace %s is unhealthy since the last release. Investigate and fix it. %s", pick(rng, namesps), pick(rng, namesps), topics[5].sentence(rng))
	},
	progress: func(rng *rand.Rand, n int) []step {
		var out []step
		job := "job-" + hexID(rng, 8)
		pct := 5 + rng.IntN(10)
		for len(out) < n {
			ns := pick(rng, namesps)
			switch rng.IntN(3) {
			case 0:
				var rows []string
				for range 2 + rng.IntN(4) {
					rows = append(rows, fmt.Sprintf("%s-%s-%s   %d/1   %s   %d   %dm", pick(rng, namesps), hexID(rng, 9), hexID(rng, 5), rng.IntN(2), pick(rng, words("Running Pending CrashLoopBackOff Completed")), rng.IntN(9), 1+rng.IntN(50)))
				}
				out = append(out, step{"kubectl", argsJSON("args", "get pods -n "+ns+" -l app="+pick(rng, namesps)), "NAME   READY   STATUS   RESTARTS   AGE\n" + strings.Join(rows, "\n")})
			case 1:
				pod := ns + "-" + hexID(rng, 9) + "-" + hexID(rng, 5)
				out = append(out, step{"get_logs", argsJSON("pod", pod, "since", fmt.Sprintf("%dm", 5+rng.IntN(55))), topics[5].paragraph(rng, 2) + "\nlevel=error msg=\"" + topics[5].sentence(rng) + "\""})
			default:
				pct = min(100, pct+10+rng.IntN(20))
				out = append(out, step{"job_status", argsJSON("job_id", job), fmt.Sprintf("status: running\nprogress: %d%% (%d of %d shards)\nlast error: none", pct, pct/5, 20)})
			}
		}
		return out
	},
	stuck: func(rng *rand.Rand) stuck {
		field := pick(rng, words("imagePullPolcy livenesProbe resource replica containerPort"))
		return stuck{"kubectl", argsJSON("args", "apply -f k8s/"+pick(rng, namesps)+"/deployment.yaml"), func(*rand.Rand, int, time.Time) string {
			return fmt.Sprintf("error: error validating \"deployment.yaml\": error validating data: ValidationError(Deployment.spec.template.spec.containers[0]): unknown field %q in io.k8s.api.core.v1.Container; if you choose to ignore these errors, turn validation off with --validate=false", field)
		}}
	},
	cycle: func(rng *rand.Rand, period int) []step {
		ns := pick(rng, namesps)
		apply := step{"kubectl", argsJSON("args", "apply -f k8s/deployment.yaml -n "+ns), "deployment.apps/" + ns + " configured"}
		status := step{"kubectl", argsJSON("args", "rollout status deployment/"+ns+" -n "+ns+" --timeout=10s"), "error: timed out waiting for the condition"}
		if period == 2 {
			return []step{apply, status}
		}
		return []step{apply, status, {"kubectl", argsJSON("args", "rollout undo deployment/"+ns+" -n "+ns), "deployment.apps/" + ns + " rolled back"}}
	},
}

var scenarios = []*scenario{&coding, &research, &data, &support, &devops}

// thinking is the prose some models put next to a tool call.
var thinking = []string{
	"", "", "",
	"Let me check that.", "I'll look at this next.", "Let me try that again.", "Retrying the previous step.",
	"That did not work; I will run it once more.", "I need more information first.", "Next, I'll verify the result.",
	"Let me run this again to be sure.", "Trying once more with the same input.",
}
