package fakeopenai

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"strconv"
	"strings"
)

// form is a parsed multipart/form-data body: files and plain fields.
type form struct {
	values map[string][]string
	files  map[string][]formFile
}

type formFile struct {
	filename    string
	contentType string
	data        []byte
}

// parseForm reads a multipart body, answering 400 like OpenAI when the
// request is not multipart/form-data.
func (ex *exchange) parseForm() (*form, bool) {
	ct := ex.r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		ex.invalid("Invalid Content-Type header ("+ct+"), expected multipart/form-data. (HINT: If you're using curl, you can pass -F 'key=value' to send a multipart request.)", "")
		return nil, false
	}
	f := &form{values: map[string][]string{}, files: map[string][]formFile{}}
	mr := multipart.NewReader(bytes.NewReader(ex.body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return f, true
		}
		if err != nil {
			ex.invalid("Could not parse multipart form: "+err.Error(), "")
			return nil, false
		}
		data, err := io.ReadAll(p)
		if err != nil {
			ex.invalid("Could not parse multipart form: "+err.Error(), "")
			return nil, false
		}
		name := p.FormName()
		if p.FileName() != "" {
			f.files[name] = append(f.files[name], formFile{filename: p.FileName(), contentType: p.Header.Get("Content-Type"), data: data})
			continue
		}
		f.values[name] = append(f.values[name], string(data))
	}
}

// get returns the first value of a field ("" when absent).
func (f *form) get(name string) string {
	if v := f.values[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// list returns every value of name and name[] (arrays arrive either way).
func (f *form) list(name string) []string {
	return append(append([]string{}, f.values[name]...), f.values[name+"[]"]...)
}

// fileList returns every file sent as name or name[].
func (f *form) fileList(name string) []formFile {
	return append(append([]formFile{}, f.files[name]...), f.files[name+"[]"]...)
}

// integer reads an integer field; def when absent or malformed.
func (f *form) integer(name string, def int) int {
	n, err := strconv.Atoi(strings.TrimSpace(f.get(name)))
	if err != nil {
		return def
	}
	return n
}

// boolean reads "true"/"1" as true.
func (f *form) boolean(name string) bool {
	v := strings.ToLower(strings.TrimSpace(f.get(name)))
	return v == "true" || v == "1"
}
