package fakeopenai

import (
	"fmt"
	"net/http"
	"slices"
)

// fileJSON is OpenAI's file object.
type fileJSON struct {
	ID            string  `json:"id"`
	Object        string  `json:"object"`
	Bytes         int     `json:"bytes"`
	CreatedAt     int64   `json:"created_at"`
	ExpiresAt     *int64  `json:"expires_at"`
	Filename      string  `json:"filename"`
	Purpose       string  `json:"purpose"`
	Status        string  `json:"status"`
	StatusDetails *string `json:"status_details"`
}

type storedFile struct {
	obj     fileJSON
	content []byte
}

// uploadPurposes are the purposes POST /v1/files accepts (batch_output and
// the like are the fake's own).
var uploadPurposes = []string{"assistants", "batch", "fine-tune", "vision", "user_data", "evals"}

// uploadFile answers POST /v1/files (multipart: purpose, file).
func (ex *exchange) uploadFile() error {
	f, ok := ex.parseForm()
	if !ok {
		return nil
	}
	purpose, files := f.get("purpose"), f.files["file"]
	switch {
	case len(files) == 0:
		ex.invalid("Missing required parameter: 'file'.", "file")
		return nil
	case purpose == "":
		ex.invalid("Missing required parameter: 'purpose'.", "purpose")
		return nil
	case !slices.Contains(uploadPurposes, purpose):
		ex.invalid(fmt.Sprintf("'%s' is not one of %q - 'purpose'", purpose, uploadPurposes), "purpose")
		return nil
	}
	obj := ex.s.addFile(ex.idFor("file-"), files[0].filename, purpose, files[0].data)
	ex.writeJSON(http.StatusOK, obj)
	return nil
}

// addFile stores content as a processed file and returns its object.
func (s *Server) addFile(id, filename, purpose string, content []byte) fileJSON {
	obj := fileJSON{ID: id, Object: "file", Bytes: len(content), CreatedAt: s.now().Unix(),
		Filename: filename, Purpose: purpose, Status: "processed"}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	st.files[id] = &storedFile{obj: obj, content: content}
	st.fileOrder = append(st.fileOrder, id)
	return obj
}

// file returns a stored file, answering OpenAI's 404 when there is none.
func (ex *exchange) file(id string) *storedFile {
	st := ex.s.st
	st.mu.Lock()
	f := st.files[id]
	st.mu.Unlock()
	if f == nil {
		ex.notFound("No such File object: "+id, "id")
	}
	return f
}

// listFiles answers GET /v1/files (?purpose=, ?order=asc; newest first).
func (ex *exchange) listFiles() error {
	purpose := ex.r.URL.Query().Get("purpose")
	st := ex.s.st
	st.mu.Lock()
	var objs []fileJSON
	for _, id := range st.fileOrder {
		if f := st.files[id]; f != nil && (purpose == "" || f.obj.Purpose == purpose) {
			objs = append(objs, f.obj)
		}
	}
	st.mu.Unlock()
	if ex.r.URL.Query().Get("order") != "asc" {
		objs = reversed(objs)
	}
	ex.writeJSON(http.StatusOK, newList(objs, func(f fileJSON) string { return f.ID }))
	return nil
}

func (ex *exchange) getFile(id string) error {
	if f := ex.file(id); f != nil {
		ex.writeJSON(http.StatusOK, f.obj)
	}
	return nil
}

// fileContent answers GET /v1/files/{id}/content with the stored bytes (a
// batch output file: its JSONL lines).
func (ex *exchange) fileContent(id string) error {
	f := ex.file(id)
	if f == nil {
		return nil
	}
	h := ex.w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", fmt.Sprint(len(f.content)))
	ex.w.WriteHeader(http.StatusOK)
	return ex.writeSplit(f.content)
}

func (ex *exchange) deleteFile(id string) error {
	st := ex.s.st
	st.mu.Lock()
	_, ok := st.files[id]
	delete(st.files, id)
	st.fileOrder = slices.DeleteFunc(st.fileOrder, func(x string) bool { return x == id })
	st.mu.Unlock()
	if !ok {
		ex.notFound("No such File object: "+id, "id")
		return nil
	}
	ex.writeJSON(http.StatusOK, deletedJSON{ID: id, Object: "file", Deleted: true})
	return nil
}
