package gcpfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"cloud.google.com/go/serviceusage/apiv1/serviceusagepb"
	sqladmin "google.golang.org/api/sqladmin/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// Cloud SQL Admin is a discovery-only API (no protos to transcode), so its few read routes are
// served here directly, in both the shapes clients use: /v1/projects/P/instances[/I] (the Go
// client google.golang.org/api/sqladmin/v1) and /sql/v1beta4/projects/P/instances[/I] (gcloud
// sql). Instances are not created through the API: the tool never creates one, so tests and the
// sandbox seed them (SeedSQLInstance, or POST /_fake/sql/instances).
var sqlRoute = regexp.MustCompile(`^/(?:v1|sql/v1beta4)/projects/([^/]+)/instances(?:/([^/]+))?$`)

func sqlKey(project, instance string) string {
	return "sql/projects/" + project + "/instances/" + instance
}

// SeedSQLInstance stores a Cloud SQL instance as an administrator created it. Name, Project and
// Region are required; the fields Cloud SQL fills in (connection name, state, self link, kind,
// backend and instance type) are filled in when empty. The ipAddresses are kept as given: PRIVATE
// for an address on settings.ipConfiguration.privateNetwork, PRIMARY for a public one.
func (s *Server) SeedSQLInstance(inst *sqladmin.DatabaseInstance) error {
	if inst.Name == "" || inst.Project == "" || inst.Region == "" {
		return fmt.Errorf("seed Cloud SQL instance: name, project and region are required")
	}
	in := *inst
	in.Kind = "sql#instance"
	if in.ConnectionName == "" {
		in.ConnectionName = in.Project + ":" + in.Region + ":" + in.Name
	}
	if in.State == "" {
		in.State = "RUNNABLE"
	}
	if in.DatabaseVersion == "" {
		in.DatabaseVersion = "POSTGRES_16"
	}
	if in.BackendType == "" {
		in.BackendType = "SECOND_GEN"
	}
	if in.InstanceType == "" {
		in.InstanceType = "CLOUD_SQL_INSTANCE"
	}
	if in.GceZone == "" {
		in.GceZone = in.Region + "-a"
	}
	in.SelfLink = "https://sqladmin.googleapis.com/v1/projects/" + in.Project + "/instances/" + in.Name
	b, err := json.Marshal(&in)
	if err != nil {
		return err
	}
	st := &structpb.Struct{}
	if err := protojson.Unmarshal(b, st); err != nil {
		return err
	}
	defer s.lock(in.Project)()
	s.st.put(sqlKey(in.Project, in.Name), st)
	// An instance exists only where its API is on.
	s.st.put(serviceKey(in.Project, "sqladmin.googleapis.com"), s.serviceRecord(in.Project, "sqladmin.googleapis.com", serviceusagepb.State_ENABLED))
	return nil
}

// DeleteSQLInstance removes a seeded instance, as an administrator deleting it.
func (s *Server) DeleteSQLInstance(project, name string) {
	defer s.lock(project)()
	s.st.del(sqlKey(project, name))
}

// sqlAdmin serves the Cloud SQL Admin routes; it reports false for any other path.
func (s *Server) sqlAdmin(w http.ResponseWriter, r *http.Request) bool {
	m := sqlRoute.FindStringSubmatch(r.URL.Path)
	if m == nil {
		return false
	}
	if r.Method != http.MethodGet {
		writeError(w, false, gkeErr(codes.Unimplemented, "the simulator serves Cloud SQL instances read-only: seed them with POST /_fake/sql/instances"))
		return true
	}
	project, name := m[1], m[2]
	method := "SqlInstances/List"
	if name != "" {
		method = "SqlInstances/Get"
	}
	s.ctl.mu.Lock()
	s.ctl.counters[method]++
	s.ctl.mu.Unlock()
	if f := s.ctl.takeFault(method, false); f != nil && (f.HTTP != 0 || f.Code != codes.OK || f.Message != "") {
		writeError(w, false, f.err())
		return true
	}
	unlock := s.lock(project)
	if err := s.requireService(project, "sqladmin.googleapis.com"); err != nil {
		unlock()
		writeError(w, false, err)
		return true
	}
	var out any
	if name != "" {
		st, ok := s.st.get(sqlKey(project, name)).(*structpb.Struct)
		if !ok {
			unlock()
			writeError(w, false, &Error{Code: codes.NotFound, HTTP: 404, Reason: "instanceDoesNotExist", Message: "The Cloud SQL instance does not exist."})
			return true
		}
		out = st.AsMap()
	} else {
		var items []any
		for _, k := range s.st.list("sql/projects/" + project + "/instances/") {
			items = append(items, s.st.get(k).(*structpb.Struct).AsMap())
		}
		list := map[string]any{"kind": "sql#instancesList"}
		if len(items) > 0 {
			list["items"] = items
		}
		out = list
	}
	unlock()
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	json.NewEncoder(w).Encode(out)
	return true
}

// adminSQL seeds (POST, a DatabaseInstance as JSON) or deletes (DELETE ?project=P&name=N) a
// Cloud SQL instance.
func (s *Server) adminSQL(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		var in sqladmin.DatabaseInstance
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, "bad instance: "+err.Error(), 400)
			return
		}
		if err := s.SeedSQLInstance(&in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"connectionName\": %q}\n", strings.Join([]string{in.Project, in.Region, in.Name}, ":"))
	case http.MethodDelete:
		s.DeleteSQLInstance(r.URL.Query().Get("project"), r.URL.Query().Get("name"))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, "{}")
	default:
		http.Error(w, "POST or DELETE", 405)
	}
}
