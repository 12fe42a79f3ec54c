using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Api.Students;
using Api.Tests.Infrastructure;

namespace Api.Tests.Hostile;

/// <summary>
/// Malformed, oversized and hostile requests against the Api process in Development and in Production: each is
/// refused with its status and a ProblemDetails body (naming the field where there is one), changes nothing in the
/// store or the queue, and gets the same answer in both environments.
/// </summary>
public sealed class HostileInputTests(HostileApis apis) : IClassFixture<HostileApis>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <param name="Build">The request, aimed at the seeded records where it needs them.</param>
    /// <param name="Status">The answer expected.</param>
    /// <param name="Field">The key the problem's <c>errors</c> must have, or null where the problem names no field.</param>
    private sealed record HostileCase(Func<HostileApi, HttpRequestMessage> Build, HttpStatusCode Status, string? Field);

    private enum Caller { Staff, Student, Service, Anonymous }

    private static readonly Dictionary<string, HostileCase> s_cases = BuildCases();

    public static TheoryData<string> CaseNames => [.. s_cases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task HostileRequest_IsRefusedWithAProblem_ChangesNothing_AndIsAnsweredAlikeInBothEnvironments(string name)
    {
        var hostile = s_cases[name];
        var answers = new Dictionary<string, string>();
        foreach (var environment in HostileApis.Environments)
        {
            var api = apis[environment];
            var before = await api.StateAsync();

            using var request = hostile.Build(api);
            using var response = await api.Http.SendAsync(request, Ct);
            var problem = await ProblemAssert.IsProblemAsync(response, hostile.Status);
            Assert.True(problem.TryGetProperty("title", out _), $"{environment}: the problem has no title.");
            if (hostile.Field is { } field)
            {
                Assert.True(problem.TryGetProperty("errors", out var errors) && errors.TryGetProperty(field, out _),
                    $"{environment}: expected errors to name '{field}': {problem}");
            }
            Assert.DoesNotContain("   at ", problem.ToString(), StringComparison.Ordinal);

            await api.SettleAsync();
            var after = await api.StateAsync();
            Assert.True(before.ToString() == after.ToString(), $"{environment}: the request changed the state.\nbefore: {before}\nafter:  {after}");
            answers[environment] = Comparable(problem, api.Seeded);
        }
        Assert.Equal(answers["Development"], answers["Production"]);
    }

    [Fact]
    public async Task FormulaCells_AreRejectedRowByRow_AndNothingIsStored()
    {
        foreach (var environment in HostileApis.Environments)
        {
            var api = apis[environment];
            var before = await api.StateAsync();
            var csv = Uploads.Header + "\n\"=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")\",f1@example.edu,9876500001,F001,B1\n"
                + "Asha,f2@example.edu,9876500002,@SUM(A1:A9),B1\nRavi,f3@example.edu,9876500003,F003,=cmd|' /C calc'!A0\n";
            using var request = api.Request(HttpMethod.Post, "/api/students/upload");
            request.Headers.Authorization = HostileApi.Bearer(ApiTestHost.Token("staff"));
            request.Content = Uploads.Csv(csv);

            using var response = await api.Http.SendAsync(request, Ct);

            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var report = await ApiTestHost.ReadAsync<UploadReport>(response);
            Assert.Equal(0, report.Imported + report.Updated);
            Assert.Equal([(2, "name"), (3, "roll number"), (4, "batch")], report.Rejected.Select(r => (r.Row, r.Field)));
            // The report shows each value escaped, so opening it in a spreadsheet runs nothing.
            Assert.All(report.Rejected, r => Assert.Contains("Value: '", r.Reason, StringComparison.Ordinal));
            await api.SettleAsync();
            Assert.Equal(before.ToString(), (await api.StateAsync()).ToString());
        }
    }

    /// <summary>Kestrel refuses these before the Api sees them, so their answers carry no ProblemDetails (see the README).</summary>
    [Theory]
    [InlineData("header-too-large", 431)]
    [InlineData("request-line-too-long", 414)]
    [InlineData("encoded-nul-in-path", 400)]
    public async Task RequestsTheServerRefusesItself_GetABareStatus_AndChangeNothing(string kind, int status)
    {
        foreach (var environment in HostileApis.Environments)
        {
            var api = apis[environment];
            var before = await api.StateAsync();
            using var request = kind switch
            {
                "header-too-large" => WithHeader(api.Request(HttpMethod.Get, "/api/students"), "X-Padding", new string('a', 40 * 1024)),
                "request-line-too-long" => api.Request(HttpMethod.Get, "/api/students?search=" + new string('a', 9 * 1024)),
                _ => api.Request(HttpMethod.Delete, $"/api/dead-letters/{api.Seeded.DeadLetterId}%00"),
            };
            request.Headers.Authorization = HostileApi.Bearer(ApiTestHost.Token("staff"));

            using var response = await api.Http.SendAsync(request, Ct);

            Assert.Equal(status, (int)response.StatusCode);
            Assert.Empty(await response.Content.ReadAsByteArrayAsync(Ct));
            Assert.Equal(before.ToString(), (await api.StateAsync()).ToString());
        }
    }

    /// <summary>The problem as both environments must give it: no trace id, and the seeded ids (which differ) as placeholders.</summary>
    private static string Comparable(JsonElement problem, Seeded seeded)
    {
        var node = JsonNode.Parse(problem.GetRawText())!.AsObject();
        node.Remove("traceId");
        var text = node.ToJsonString();
        foreach (var (id, placeholder) in new[]
        {
            (seeded.StudentId, "{student}"), (seeded.OtherStudentId, "{other}"), (seeded.FormId, "{form}"), (seeded.BatchId, "{batch}"), (seeded.DeadLetterId, "{dead}"),
        })
        {
            text = text.Replace(id, placeholder, StringComparison.Ordinal);
        }
        return text;
    }

    private static Dictionary<string, HostileCase> BuildCases()
    {
        var cases = new Dictionary<string, HostileCase>(StringComparer.Ordinal);
        AddRouteParameterCases(cases);
        AddQueryCases(cases);
        AddBodyCases(cases);
        AddFileCases(cases);
        AddTokenCases(cases);
        AddKeyCases(cases);
        return cases;
    }

    /// <summary>Every route parameter, given each value that must not reach a lookup (let alone a delete).</summary>
    private static void AddRouteParameterCases(Dictionary<string, HostileCase> cases)
    {
        var routes = new (string Method, string Template, string Parameter, Caller Caller, Func<Seeded, object>? Body)[]
        {
            ("GET", "/api/students/{x}", "id", Caller.Staff, null),
            ("GET", "/api/forms/{x}", "id", Caller.Staff, null),
            ("POST", "/api/forms/{x}/submissions", "formId", Caller.Student, _ => new { answers = new { comment = "hi" } }),
            ("GET", "/api/forms/{x}/submissions", "formId", Caller.Staff, null),
            ("GET", "/api/forms/{x}/submissions/export", "formId", Caller.Staff, null),
            ("GET", "/api/forms/{x}/analytics", "formId", Caller.Staff, null),
            ("POST", "/api/batches/{x}/students", "id", Caller.Staff, s => new { studentIds = new[] { s.OtherStudentId } }),
            ("GET", "/api/batches/{x}", "id", Caller.Staff, null),
            ("GET", "/api/notifications/{x}", "taskId", Caller.Staff, null),
            ("GET", "/api/dead-letters/{x}", "id", Caller.Staff, null),
            ("POST", "/api/dead-letters/{x}/retry", "id", Caller.Staff, null),
            ("DELETE", "/api/dead-letters/{x}", "id", Caller.Staff, null),
            ("GET", "/api/outbox/{x}", "id", Caller.Staff, null),
            ("PUT", "/api/monitoring/memory/web-dashboard/{x}", "instance", Caller.Service, _ => new { workingSetBytes = 1000 }),
            ("PUT", "/api/monitoring/memory/{x}/dashboard-1", "service", Caller.Service, _ => new { workingSetBytes = 1000 }),
            ("GET", "/api/suppressions/{x}/asha@example.edu", "channel", Caller.Staff, null),
            ("GET", "/api/suppressions/sms/{x}", "address", Caller.Staff, null),
            ("POST", "/api/suppressions/sms/{x}/lift", "address", Caller.Staff, _ => new { note = "lifted by a hostile test" }),
            ("POST", "/api/webhooks/bulksms/{x}", "token", Caller.Anonymous, _ => Array.Empty<object>()),
            ("POST", "/api/webhooks/{x}/" + Processes.ApiProcessSystem.WebhookToken, "provider", Caller.Anonymous, _ => new { @event = "delivered" }),
        };
        var values = new (string Name, string Segment, bool IsPathProblem)[]
        {
            ("dot", ".", true), ("dot-dot", "..", true), ("encoded-dot", "%2e", true), ("encoded-dot-dot", "%2E%2e", true),
            ("encoded-slash", "%2f", true), ("encoded-slash-inside", "a%2Fb", true), ("encoded-backslash", "%5C", true),
            ("control-character", "%01", false), ("delete-character", "a%7Fb", false), ("huge", new string('k', 1000), false),
        };
        foreach (var route in routes)
        {
            foreach (var value in values)
            {
                var target = route.Template.Replace("{x}", value.Segment, StringComparison.Ordinal);
                cases[$"route {route.Method} {route.Template} {{{route.Parameter}}} = {value.Name}"] = new HostileCase(
                    api => Build(api, new HttpMethod(route.Method), target, route.Caller, route.Body is null ? null : ApiTestHost.JsonBody(route.Body(api.Seeded))),
                    HttpStatusCode.BadRequest, value.IsPathProblem ? "path" : route.Parameter);
            }
        }
    }

    private static void AddQueryCases(Dictionary<string, HostileCase> cases)
    {
        void Add(string target, string field) =>
            cases[$"query GET {target}"[..Math.Min(80, target.Length + 10)]] = new HostileCase(api => Build(api, HttpMethod.Get, target, Caller.Staff), HttpStatusCode.BadRequest, field);

        Add("/api/students?page=0", "page");
        Add("/api/students?page=-1", "page");
        Add("/api/students?page=abc", "page");
        Add("/api/students?page=99999999999", "page");
        Add("/api/students?page=2147483647", "page");
        Add("/api/students?page=1e3", "page");
        Add("/api/students?pageSize=0", "pageSize");
        Add("/api/students?pageSize=501", "pageSize");
        Add("/api/students?pageSize=%00", "pageSize");
        Add("/api/batches?pageSize=-5", "pageSize");
        Add("/api/notifications?page=0", "page");
        Add("/api/notifications?status=exploded", "status");
        Add("/api/notifications?recipient=%01", "recipient");
        Add("/api/dead-letters?offset=-1", "offset");
        Add("/api/dead-letters?limit=0", "limit");
        Add("/api/dead-letters?limit=1000000", "limit");
        Add("/api/dead-letters?type=fax", "type");
        Add("/api/dead-letters?search=" + new string('s', 1000), "search");
        Add("/api/outbox?offset=-1", "offset/limit");
        Add("/api/outbox?limit=100000000000", "limit");
        cases["query GET /api/forms/{form}/submissions?page=0"] = new HostileCase(
            api => Build(api, HttpMethod.Get, $"/api/forms/{api.Seeded.FormId}/submissions?page=0", Caller.Staff), HttpStatusCode.BadRequest, "page");
    }

    /// <summary>Every JSON body: malformed, missing, of the wrong shape or type, too deep, too large a number, not JSON at all.</summary>
    private static void AddBodyCases(Dictionary<string, HostileCase> cases)
    {
        var routes = new (string Name, string Method, Func<Seeded, string> Target, Caller Caller)[]
        {
            ("create batch", "POST", _ => "/api/batches", Caller.Staff),
            ("create form", "POST", _ => "/api/forms", Caller.Staff),
            ("submit form", "POST", s => $"/api/forms/{s.FormId}/submissions", Caller.Student),
            ("add batch students", "POST", s => $"/api/batches/{s.BatchId}/students", Caller.Staff),
            ("delete all dead letters", "POST", _ => "/api/dead-letters/delete-all", Caller.Staff),
            ("retry all dead letters", "POST", _ => "/api/dead-letters/retry-all", Caller.Staff),
            ("report memory", "PUT", _ => "/api/monitoring/memory/web-dashboard/dashboard-1", Caller.Service),
            ("add suppression", "POST", _ => "/api/suppressions", Caller.Staff),
            ("bulksms webhook", "POST", _ => "/api/webhooks/bulksms/" + Processes.ApiProcessSystem.WebhookToken, Caller.Anonymous),
            ("brevo webhook", "POST", _ => "/api/webhooks/brevo/" + Processes.ApiProcessSystem.WebhookToken, Caller.Anonymous),
        };
        var deep = new string('[', 100) + new string(']', 100);
        foreach (var route in routes)
        {
            void Add(string kind, Func<HttpContent?> body, HttpStatusCode status, string? field) =>
                cases[$"body {route.Name} = {kind}"] = new HostileCase(
                    api => Build(api, new HttpMethod(route.Method), route.Target(api.Seeded), route.Caller, body()), status, field);

            Add("malformed", () => Json("""{"name": "x", """), HttpStatusCode.BadRequest, null);
            Add("array", () => Json("[]"), HttpStatusCode.BadRequest, "body");
            Add("too deep", () => Json(deep), HttpStatusCode.BadRequest, null);
            Add("binary", () => new ByteArrayContent([0xFF, 0xFE, 0x00, 0x7B]) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
                HttpStatusCode.BadRequest, null);
            Add("text/plain", () => new StringContent("""{"name":"x"}""", Encoding.UTF8, "text/plain"), HttpStatusCode.UnsupportedMediaType, null);
            Add("form-urlencoded", () => new FormUrlEncodedContent([new("name", "x")]), HttpStatusCode.UnsupportedMediaType, null);
        }
        // An empty body where one is required; the bulk dead-letter actions take an optional one and say what they need instead.
        foreach (var route in routes)
        {
            var field = route.Name.EndsWith("dead letters", StringComparison.Ordinal) ? "confirm" : "body";
            cases[$"body {route.Name} = empty"] = new HostileCase(
                api => Build(api, new HttpMethod(route.Method), route.Target(api.Seeded), route.Caller, Json("")), HttpStatusCode.BadRequest, field);
            cases[$"body {route.Name} = null"] = new HostileCase(
                api => Build(api, new HttpMethod(route.Method), route.Target(api.Seeded), route.Caller, Json("null")), HttpStatusCode.BadRequest, field);
        }

        void Typed(string name, string method, Func<Seeded, string> target, Caller caller, string json, string field) =>
            cases[$"body {name}"] = new HostileCase(api => Build(api, new HttpMethod(method), target(api.Seeded), caller, Json(json)), HttpStatusCode.BadRequest, field);

        Typed("create batch name is a number", "POST", _ => "/api/batches", Caller.Staff, """{"name": 5}""", "name");
        Typed("create batch studentIds is a string", "POST", _ => "/api/batches", Caller.Staff, """{"name": "x", "studentIds": "abc"}""", "studentIds");
        Typed("create batch studentIds holds a number", "POST", _ => "/api/batches", Caller.Staff, """{"name": "x", "studentIds": [1]}""", "studentIds[0]");
        Typed("create batch name is blank", "POST", _ => "/api/batches", Caller.Staff, """{"name": "  "}""", "name");
        Typed("create form isActive is a string", "POST", _ => "/api/forms", Caller.Staff, """{"title": "t", "isActive": "yes"}""", "isActive");
        Typed("create form fields is an object", "POST", _ => "/api/forms", Caller.Staff, """{"title": "t", "isActive": true, "fields": {}}""", "fields");
        Typed("create form field is null", "POST", _ => "/api/forms", Caller.Staff, """{"title": "t", "isActive": true, "fields": [null]}""", "fields[0]");
        Typed("submit answers is an array", "POST", s => $"/api/forms/{s.FormId}/submissions", Caller.Student, """{"answers": [1]}""", "answers");
        Typed("submit answer is a number", "POST", s => $"/api/forms/{s.FormId}/submissions", Caller.Student, """{"answers": {"comment": 5}}""", "answers.comment");
        Typed("submit answer is null", "POST", s => $"/api/forms/{s.FormId}/submissions", Caller.Student, """{"answers": {"comment": null}}""", "answers.comment");
        Typed("submit answer of an unknown field", "POST", s => $"/api/forms/{s.FormId}/submissions", Caller.Student,
            """{"answers": {"comment": "hi", "grade": "A+"}}""", "answers.grade");
        Typed("submit answer missing", "POST", s => $"/api/forms/{s.FormId}/submissions", Caller.Student, """{"answers": {}}""", "answers.comment");
        Typed("delete all confirm is a string", "POST", _ => "/api/dead-letters/delete-all", Caller.Staff, """{"confirm": "all"}""", "confirm");
        Typed("delete all confirm is huge", "POST", _ => "/api/dead-letters/delete-all", Caller.Staff, """{"confirm": 1e400}""", "confirm");
        Typed("delete all confirm is past int", "POST", _ => "/api/dead-letters/delete-all", Caller.Staff, """{"confirm": 2147483648}""", "confirm");
        Typed("delete all confirm is negative", "POST", _ => "/api/dead-letters/delete-all", Caller.Staff, """{"confirm": -1}""", "confirm");
        Typed("delete all without confirm", "POST", _ => "/api/dead-letters/delete-all", Caller.Staff, """{"all": true}""", "confirm");
        Typed("retry all confirm is fractional", "POST", _ => "/api/dead-letters/retry-all", Caller.Staff, """{"confirm": 1.5}""", "confirm");
        Typed("report memory is a string", "PUT", _ => "/api/monitoring/memory/web-dashboard/dashboard-1", Caller.Service, """{"workingSetBytes": "lots"}""", "workingSetBytes");
        Typed("report memory is negative", "PUT", _ => "/api/monitoring/memory/web-dashboard/dashboard-1", Caller.Service, """{"workingSetBytes": -1}""", "workingSetBytes");
        Typed("report memory is past long", "PUT", _ => "/api/monitoring/memory/web-dashboard/dashboard-1", Caller.Service, """{"workingSetBytes": 99999999999999999999}""", "workingSetBytes");
        Typed("add suppression channel is a number", "POST", _ => "/api/suppressions", Caller.Staff, """{"channel": 1, "address": "a@example.edu", "reason": "r"}""", "channel");
        Typed("add suppression channel is unknown", "POST", _ => "/api/suppressions", Caller.Staff, """{"channel": "fax", "address": "a@example.edu", "reason": "r"}""", "channel");
        Typed("add suppression address is blank", "POST", _ => "/api/suppressions", Caller.Staff, """{"channel": "email", "address": "  ", "reason": "r"}""", "address");
        Typed("add suppression reason is huge", "POST", _ => "/api/suppressions", Caller.Staff,
            $$"""{"channel": "email", "address": "a@example.edu", "reason": "{{new string('r', 600)}}"}""", "reason");
        var webhook = "/api/webhooks/bulksms/" + Processes.ApiProcessSystem.WebhookToken;
        Typed("bulksms webhook status is unknown", "POST", _ => webhook, Caller.Anonymous,
            """[{"id": "1", "type": "SENT", "to": "+1", "body": "x", "status": {"id": "LOST.null", "type": "LOST"}}]""", "[0].status.type");
        Typed("bulksms webhook id is a number", "POST", _ => webhook, Caller.Anonymous,
            """[{"id": 1, "type": "SENT", "to": "+1", "body": "x", "status": {"id": "DELIVERED.null", "type": "DELIVERED"}}]""", "[0].id");
        Typed("brevo webhook event is unknown", "POST", _ => "/api/webhooks/brevo/" + Processes.ApiProcessSystem.WebhookToken, Caller.Anonymous,
            """{"event": "exploded", "email": "a@example.edu", "message-id": "<m@x>", "ts_event": 1796281200}""", "event");
        // A count that is not the one the operator would see now: a conflict, and nothing deleted.
        cases["body delete all confirm is stale"] = new HostileCase(
            api => Build(api, HttpMethod.Post, "/api/dead-letters/delete-all", Caller.Staff, Json("""{"confirm": 999}""")), HttpStatusCode.Conflict, null);
        cases["body retry all confirm is stale"] = new HostileCase(
            api => Build(api, HttpMethod.Post, "/api/dead-letters/retry-all", Caller.Staff, Json("""{"confirm": 0}""")), HttpStatusCode.Conflict, null);
    }

    private static void AddFileCases(Dictionary<string, HostileCase> cases)
    {
        void Add(string kind, Func<HttpContent> body, HttpStatusCode status) =>
            cases[$"file {kind}"] = new HostileCase(api => Build(api, HttpMethod.Post, "/api/students/upload", Caller.Staff, body()), status, null);

        var valid = Uploads.Header + "\nZed,zed@example.edu,9876511111,Z001,B9\n";
        Add("cut off before its closing boundary", () => Truncated(valid), HttpStatusCode.BadRequest);
        Add("multipart without a boundary", () => new ByteArrayContent(Encoding.UTF8.GetBytes(valid)) { Headers = { ContentType = MediaTypeHeaderValue.Parse("multipart/form-data") } },
            HttpStatusCode.BadRequest);
        Add("empty", () => Uploads.File([], "students.csv", "text/csv"), HttpStatusCode.BadRequest);
        Add("wrong columns", () => Uploads.Csv("first,last\nA,B\n"), HttpStatusCode.BadRequest);
        Add("too many columns", () => Uploads.Csv(Uploads.Header + "," + string.Join(",", Enumerable.Range(0, 40).Select(i => $"c{i}")) + "\n"), HttpStatusCode.BadRequest);
        Add("oversized", () => Uploads.File(s_oversized.Value, "students.csv", "text/csv"), HttpStatusCode.RequestEntityTooLarge);
        Add("binary", () => Uploads.File([.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 % 256))], "students.csv", "text/csv"), HttpStatusCode.BadRequest);
        // With its byte-order mark a UTF-16 file is read as such; without one it is not text this Api can read.
        Add("UTF-16 without a byte-order mark", () => Uploads.File(Encoding.Unicode.GetBytes(valid), "students.csv", "text/csv"), HttpStatusCode.BadRequest);
        Add("Latin-1", () => Uploads.File(Encoding.Latin1.GetBytes(Uploads.Header + "\nJosé,jose@example.edu,9876511112,Z002,B9\n"), "students.csv", "text/csv"),
            HttpStatusCode.BadRequest);
        Add("unterminated quote", () => Uploads.Csv(Uploads.Header + "\n\"Zed,zed@example.edu,9876511111,Z001,B9\n"), HttpStatusCode.BadRequest);
        Add("zip bomb", () => Uploads.File(s_zipBomb.Value, "students.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            HttpStatusCode.RequestEntityTooLarge);
        Add("workbook of blank rows", () => Uploads.File(s_blankRows.Value, "students.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            HttpStatusCode.RequestEntityTooLarge);
        Add("corrupt workbook", () => Uploads.File([0x50, 0x4B, 0x03, 0x04, 1, 2, 3, 4, 5], "students.xlsx", "application/octet-stream"), HttpStatusCode.BadRequest);
        Add("named .xlsx but text", () => Uploads.File(Encoding.UTF8.GetBytes(valid), "students.xlsx", "text/csv"), HttpStatusCode.BadRequest);
        Add("old .xls workbook", () => Uploads.File([0xD0, 0xCF, 0x11, 0xE0], "students.xls", "application/vnd.ms-excel"), HttpStatusCode.UnsupportedMediaType);
        Add("no field named file", () => new MultipartFormDataContent { { new StringContent(valid), "students" } }, HttpStatusCode.BadRequest);
        Add("raw CSV body", () => new StringContent(valid, Encoding.UTF8, "text/csv"), HttpStatusCode.UnsupportedMediaType);
        Add("JSON body", () => Json("""{"file": "name,email"}"""), HttpStatusCode.UnsupportedMediaType);
    }

    private static void AddTokenCases(Dictionary<string, HostileCase> cases)
    {
        void Add(string kind, HttpMethod method, string target, Func<Seeded, string?> token, HttpStatusCode status, Func<HttpContent>? body = null) =>
            cases[$"token {kind}"] = new HostileCase(api =>
            {
                var request = api.Request(method, target.Replace("{dead}", api.Seeded.DeadLetterId, StringComparison.Ordinal));
                if (token(api.Seeded) is { } value)
                {
                    request.Headers.TryAddWithoutValidation("Authorization", value);
                }
                request.Content = body?.Invoke();
                return request;
            }, status, null);

        Add("none", HttpMethod.Get, "/api/students", _ => null, HttpStatusCode.Unauthorized);
        Add("expired", HttpMethod.Get, "/api/students", _ => "Bearer " + ApiTestHost.Token("staff", expires: DateTime.UtcNow.AddMinutes(-10)), HttpStatusCode.Unauthorized);
        Add("unsigned (alg none)", HttpMethod.Get, "/api/students", _ => "Bearer " + HostileApi.UnsignedToken("staff", "staff-1"), HttpStatusCode.Unauthorized);
        Add("signed with a foreign key", HttpMethod.Get, "/api/students", _ => "Bearer " + ApiTestHost.Token("staff", secret: "another-secret-key-that-is-long-enough-for-hs256"),
            HttpStatusCode.Unauthorized);
        Add("garbage", HttpMethod.Get, "/api/students", _ => "Bearer not.a.jwt", HttpStatusCode.Unauthorized);
        Add("another scheme", HttpMethod.Get, "/api/students", _ => "Basic c3RhZmY6c3RhZmY=", HttpStatusCode.Unauthorized);
        Add("foreign key deleting every dead letter", HttpMethod.Post, "/api/dead-letters/delete-all",
            _ => "Bearer " + ApiTestHost.Token("staff", secret: "another-secret-key-that-is-long-enough-for-hs256"), HttpStatusCode.Unauthorized, () => Json("""{"confirm": 1}"""));
        Add("student listing students", HttpMethod.Get, "/api/students", s => "Bearer " + ApiTestHost.Token("student", s.StudentId), HttpStatusCode.Forbidden);
        Add("student uploading students", HttpMethod.Post, "/api/students/upload", s => "Bearer " + ApiTestHost.Token("student", s.StudentId), HttpStatusCode.Forbidden,
            () => Uploads.Csv(Uploads.Header + "\nZed,zed@example.edu,9876511111,Z001,B9\n"));
        Add("student creating a batch", HttpMethod.Post, "/api/batches", s => "Bearer " + ApiTestHost.Token("student", s.StudentId), HttpStatusCode.Forbidden,
            () => Json("""{"name": "mine"}"""));
        Add("student deleting every dead letter", HttpMethod.Post, "/api/dead-letters/delete-all", s => "Bearer " + ApiTestHost.Token("student", s.StudentId),
            HttpStatusCode.Forbidden, () => Json("""{"confirm": 1}"""));
        Add("student deleting a dead letter", HttpMethod.Delete, "/api/dead-letters/{dead}", s => "Bearer " + ApiTestHost.Token("student", s.StudentId), HttpStatusCode.Forbidden);
        Add("student reading the queue", HttpMethod.Get, "/api/monitoring/queue", s => "Bearer " + ApiTestHost.Token("student", s.StudentId), HttpStatusCode.Forbidden);
        Add("student creating a form", HttpMethod.Post, "/api/forms", s => "Bearer " + ApiTestHost.Token("student", s.StudentId), HttpStatusCode.Forbidden,
            () => Json("""{"title": "mine", "isActive": true}"""));
        Add("student with an unknown role", HttpMethod.Get, "/api/students", s => "Bearer " + ApiTestHost.Token("superuser", s.StudentId), HttpStatusCode.Forbidden);
        Add("staff reporting a service's memory", HttpMethod.Put, "/api/monitoring/memory/web-dashboard/dashboard-1", _ => "Bearer " + ApiTestHost.Token("staff"),
            HttpStatusCode.Forbidden, () => Json("""{"workingSetBytes": 1000}"""));
    }

    private static void AddKeyCases(Dictionary<string, HostileCase> cases)
    {
        HttpRequestMessage Submit(HostileApi api, string key)
        {
            var request = Build(api, HttpMethod.Post, $"/api/forms/{api.Seeded.FormId}/submissions", Caller.Student, ApiTestHost.JsonBody(new { answers = new { comment = "hi" } }));
            request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
            return request;
        }
        cases["key Idempotency-Key empty"] = new HostileCase(api => Submit(api, ""), HttpStatusCode.BadRequest, "Idempotency-Key");
        cases["key Idempotency-Key of 201 characters"] = new HostileCase(api => Submit(api, new string('k', 201)), HttpStatusCode.BadRequest, "Idempotency-Key");
        cases["key Idempotency-Key of 20,000 characters"] = new HostileCase(api => Submit(api, new string('k', 20_000)), HttpStatusCode.BadRequest, "Idempotency-Key");
        cases["key answer name of 5,000 characters"] = new HostileCase(
            api => Build(api, HttpMethod.Post, $"/api/forms/{api.Seeded.FormId}/submissions", Caller.Student,
                Json("{\"answers\": {\"comment\": \"hi\", \"" + new string('q', 5000) + "\": \"x\"}}")), HttpStatusCode.BadRequest, null);
        cases["key answer of 100,000 characters"] = new HostileCase(
            api => Build(api, HttpMethod.Post, $"/api/forms/{api.Seeded.FormId}/submissions", Caller.Student,
                ApiTestHost.JsonBody(new { answers = new { comment = new string('a', 100_000) } })), HttpStatusCode.BadRequest, null);
        cases["key batch name of 10,000 characters"] = new HostileCase(
            api => Build(api, HttpMethod.Post, "/api/batches", Caller.Staff, ApiTestHost.JsonBody(new { name = new string('b', 10_000) })), HttpStatusCode.BadRequest, null);
        cases["key form title of 10,000 characters"] = new HostileCase(
            api => Build(api, HttpMethod.Post, "/api/forms", Caller.Staff, ApiTestHost.JsonBody(new { title = new string('t', 10_000), isActive = true })), HttpStatusCode.BadRequest, null);
        cases["key 10,000 student ids"] = new HostileCase(
            api => Build(api, HttpMethod.Post, $"/api/batches/{api.Seeded.BatchId}/students", Caller.Staff,
                ApiTestHost.JsonBody(new { studentIds = Enumerable.Range(0, 10_000).Select(i => $"s{i}").ToArray() })), HttpStatusCode.NotFound, null);
    }

    private static HttpRequestMessage Build(HostileApi api, HttpMethod method, string target, Caller caller, HttpContent? body = null)
    {
        var request = api.Request(method, target);
        var token = caller switch
        {
            Caller.Staff => ApiTestHost.Token("staff"),
            Caller.Student => ApiTestHost.Token("student", api.Seeded.StudentId),
            Caller.Service => ApiTestHost.Token("staff", "service:web-dashboard"),
            _ => null,
        };
        if (token is not null)
        {
            request.Headers.Authorization = HostileApi.Bearer(token);
        }
        request.Content = body;
        return request;
    }

    private static HttpRequestMessage WithHeader(HttpRequestMessage request, string name, string value)
    {
        request.Headers.TryAddWithoutValidation(name, value);
        return request;
    }

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

    /// <summary>A multipart body whose file part never reaches its closing boundary.</summary>
    private static ByteArrayContent Truncated(string csv)
    {
        var body = $"--cut\r\nContent-Disposition: form-data; name=\"file\"; filename=\"students.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}";
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("multipart/form-data; boundary=cut");
        return content;
    }

    // Built once: both environments get the same bytes.
    private static readonly Lazy<byte[]> s_oversized = new(Oversized);
    private static readonly Lazy<byte[]> s_zipBomb = new(ZipBomb);
    private static readonly Lazy<byte[]> s_blankRows = new(BlankRows);

    /// <summary>A valid CSV one MB past the upload limit.</summary>
    private static byte[] Oversized()
    {
        var padding = new StringBuilder(Uploads.Header + "\n");
        var row = 0;
        while (padding.Length < UploadLimits.MaxFileBytes + 1024 * 1024)
        {
            padding.Append(FormattableString.Invariant($"Pad {row},pad{row}@example.edu,98{row:D8},P{row:D7},B9\n"));
            row++;
        }
        return Encoding.UTF8.GetBytes(padding.ToString());
    }

    /// <summary>A real workbook with one more entry that inflates from a few hundred KB to 256 MB.</summary>
    private static byte[] ZipBomb()
    {
        var workbook = Uploads.Xlsx([new Dictionary<string, object> { ["name"] = "Zed", ["email"] = "zed@example.edu", ["phone"] = "9876511111", ["roll number"] = "Z001" }]);
        using var stream = new MemoryStream();
        stream.Write(workbook);
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Update, leaveOpen: true))
        {
            using var bomb = zip.CreateEntry("xl/media/padding.bin", CompressionLevel.SmallestSize).Open();
            var zeros = new byte[1024 * 1024];
            for (var i = 0; i < 256; i++)
            {
                bomb.Write(zeros);
            }
        }
        return stream.ToArray();
    }

    /// <summary>A workbook under the inflated-size limit whose sheet is a header and then 60,000 blank rows.</summary>
    private static byte[] BlankRows()
    {
        var rows = new List<IDictionary<string, object>>(60_001)
        {
            new Dictionary<string, object> { ["name"] = "Zed", ["email"] = "zed@example.edu", ["phone"] = "9876511111", ["roll number"] = "Z001" },
        };
        rows.AddRange(Enumerable.Range(0, 60_000).Select(_ => (IDictionary<string, object>)new Dictionary<string, object>
        {
            ["name"] = "", ["email"] = "", ["phone"] = "", ["roll number"] = "",
        }));
        return Uploads.Xlsx(rows);
    }
}
