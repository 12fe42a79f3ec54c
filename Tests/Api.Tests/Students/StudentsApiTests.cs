using System.Net;
using System.Text;
using System.Text.Json;
using Api.Students;
using Api.Tests.Infrastructure;
using Notifications.Stores;

namespace Api.Tests.Students;

public sealed class StudentsApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Upload_ReturnsCountsAndQueuesWelcomes_WhenCsvIsValid()
    {
        await using var host = await ApiTestHost.StartAsync();
        var response = await host.Staff().PostAsync("/api/students/upload", Uploads.Csv(Uploads.Rows(3)), Ct);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var report = await ApiTestHost.ReadAsync<UploadReport>(response);
        Assert.Equal(3, report.Imported);
        Assert.Equal(0, report.Updated);
        Assert.Empty(report.Rejected);
        Assert.Equal(6, report.NotificationsQueued);
        Assert.Equal("/api/notifications?batchId=B1", report.StatusUrl);
        var stats = await host.QueueStatsAsync();
        Assert.Equal(6, stats.Lanes.Single(l => l.Priority == Notifications.Tasks.NotificationPriority.Bulk).Pending);
        var stored = await host.Service<IStudentStore>().GetByRollNumberAsync("R00001", Ct);
        Assert.Equal("+919876500001", stored.Phone);
    }

    [Fact]
    public async Task Upload_ReturnsRowReport_WhenPhoneIsInvalid()
    {
        await using var host = await ApiTestHost.StartAsync();
        var csv = Uploads.Header + "\nGood,good@example.edu,9876543210,R1,B1\nBad,bad@example.edu,12345,R2,B1\n";
        var response = await host.Staff().PostAsync("/api/students/upload", Uploads.Csv(csv), Ct);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var report = await ApiTestHost.ReadAsync<UploadReport>(response);
        Assert.Equal(1, report.Imported);
        var problem = Assert.Single(report.Rejected);
        Assert.Equal(new RowProblem(3, "phone", problem.Reason), problem);
        Assert.Equal(2, report.NotificationsQueued);
    }

    [Fact]
    public async Task Upload_ReturnsRowReport_WhenEmailIsInvalid()
    {
        await using var host = await ApiTestHost.StartAsync();
        // Row 5: a quoted local part with a space, which MailAddress takes and the store does not: rejected here, alone.
        var csv = Uploads.Header + "\nA,not-an-email,9876543210,R1,B1\nB,b@example.edu,9876543211,R2,B1\nC,\"Name <c@example.edu>\",9876543212,R3,B1\n"
            + "D,\"\"\"d d\"\"@example.edu\",9876543213,R4,B1\n";
        var report = await ApiTestHost.ReadAsync<UploadReport>(await host.Staff().PostAsync("/api/students/upload", Uploads.Csv(csv), Ct));

        Assert.Equal(1, report.Imported);
        Assert.Equal([2, 4, 5], report.Rejected.Select(r => r.Row));
        Assert.All(report.Rejected, r => Assert.Equal("email", r.Field));
    }

    [Fact]
    public async Task Upload_NeutralizesFormulas_InRowReport()
    {
        await using var host = await ApiTestHost.StartAsync();
        var csv = Uploads.Header + "\nA,=1+2,9876543210,R1,B1\nB,b@example.edu,@SUM(A1),R2,B1\n";
        var report = await ApiTestHost.ReadAsync<UploadReport>(await host.Staff().PostAsync("/api/students/upload", Uploads.Csv(csv), Ct));

        Assert.Equal(["is not an email address. Value: '=1+2", "is not a phone number. Value: '@SUM(A1)"], report.Rejected.Select(r => r.Reason));
    }

    [Fact]
    public async Task Upload_RejectsRepeatedRollNumber_AndKeepsTheFirst()
    {
        await using var host = await ApiTestHost.StartAsync();
        var csv = Uploads.Header + "\nA,a@example.edu,9876543210,R1,\nB,b@example.edu,9876543211,R1,\n";
        var report = await ApiTestHost.ReadAsync<UploadReport>(await host.Staff().PostAsync("/api/students/upload", Uploads.Csv(csv), Ct));

        Assert.Equal(1, report.Imported);
        Assert.Equal("roll number", Assert.Single(report.Rejected).Field);
        Assert.Equal("/api/students", report.StatusUrl);
    }

    [Fact]
    public async Task Upload_ReturnsAccepted_WhenXlsxIsValid()
    {
        await using var host = await ApiTestHost.StartAsync();
        var xlsx = Uploads.Xlsx(
        [
            new Dictionary<string, object> { ["Name"] = "Asha", ["Email"] = "asha@example.edu", ["Phone"] = 9876543210L, ["Roll Number"] = "X1", ["Batch"] = "B2" },
            new Dictionary<string, object> { ["Name"] = "Ravi", ["Email"] = "ravi@example.edu", ["Phone"] = "+91 98765 43211", ["Roll Number"] = "X2", ["Batch"] = "B2" },
        ]);
        var response = await host.Staff().PostAsync("/api/students/upload",
            Uploads.File(xlsx, "students.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), Ct);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var report = await ApiTestHost.ReadAsync<UploadReport>(response);
        Assert.Equal(2, report.Imported);
        Assert.Empty(report.Rejected);
        Assert.Equal("+919876543210", (await host.Service<IStudentStore>().GetByRollNumberAsync("X1", Ct)).Phone);
    }

    [Fact]
    public async Task Upload_ReturnsBadRequest_WhenXlsxIsMalformed()
    {
        await using var host = await ApiTestHost.StartAsync();
        var broken = new byte[] { 0x50, 0x4B, 0x03, 0x04, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
        var response = await host.Staff().PostAsync("/api/students/upload", Uploads.File(broken, "students.xlsx", "application/octet-stream"), Ct);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("XLSX", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Upload_ReturnsBadRequest_WhenFileIsNamedXlsxButIsText()
    {
        await using var host = await ApiTestHost.StartAsync();
        var response = await host.Staff().PostAsync("/api/students/upload", Uploads.File("name,email"u8.ToArray(), "students.xlsx", "text/plain"), Ct);
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Upload_ReturnsBadRequest_WhenCsvIsMalformed()
    {
        await using var host = await ApiTestHost.StartAsync();
        var csv = Uploads.Header + "\nA,a@example.edu,9876543210,R1,B1\n\"Unclosed,b@example.edu,9876543211,R2,B1\nC,c@example.edu,9876543212,R3,B1\n";
        var response = await host.Staff().PostAsync("/api/students/upload", Uploads.Csv(csv), Ct);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        // The sheet's row (the header is row 1), so the person can find it.
        Assert.Contains("at row 3", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, (await host.Service<IStudentStore>().ListAsync(new PageRequest(), Ct)).Total);
    }

    [Fact]
    public async Task Upload_ReturnsBadRequest_WhenCsvIsBinary()
    {
        await using var host = await ApiTestHost.StartAsync();
        var response = await host.Staff().PostAsync("/api/students/upload", Uploads.File([0, 1, 2, 0, 0, 5, 10, 0, 7], "students.csv", "text/csv"), Ct);
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Upload_ReturnsBadRequest_WhenColumnsAreWrong()
    {
        await using var host = await ApiTestHost.StartAsync();
        var response = await host.Staff().PostAsync("/api/students/upload", Uploads.Csv("name,mail address,telephone\nA,a@example.edu,9876543210\n"), Ct);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("missing", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Upload_ReturnsBadRequest_WhenThereAreTooManyColumns()
    {
        await using var host = await ApiTestHost.StartAsync(s => s["Upload:MaxColumns"] = "6");
        var response = await host.Staff().PostAsync("/api/students/upload", Uploads.Csv(Uploads.Header + ",a,b,c\n"), Ct);
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Upload_ReturnsBadRequest_WhenFileIsEmpty()
    {
        await using var host = await ApiTestHost.StartAsync();
        var response = await host.Staff().PostAsync("/api/students/upload", Uploads.Csv(""), Ct);
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Upload_ReturnsBadRequest_WhenFileFieldIsMissing()
    {
        await using var host = await ApiTestHost.StartAsync();
        using var form = new MultipartFormDataContent { { new StringContent("x"), "other" } };
        var response = await host.Staff().PostAsync("/api/students/upload", form, Ct);
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Upload_ReturnsUnsupportedMediaType_WhenBodyIsNotMultipart()
    {
        await using var host = await ApiTestHost.StartAsync();
        var response = await host.Staff().PostAsync("/api/students/upload", new StringContent(Uploads.Rows(1), Encoding.UTF8, "text/csv"), Ct);
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
    }

    [Theory]
    [InlineData("text/csv")]
    [InlineData("application/json")]
    public async Task Upload_OfAnotherContentType_Answers415_SayingWhatTheEndpointExpects(string contentType)
    {
        await using var host = await ApiTestHost.StartAsync();
        var response = await host.Staff().PostAsync("/api/students/upload", new StringContent(Uploads.Rows(1), Encoding.UTF8, contentType), Ct);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Contains("multipart/form-data", await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal(0, (await ApiTestHost.ReadAsync<PagedList<StudentView>>(await host.Staff().GetAsync("/api/students", Ct))).Total);
    }

    [Fact]
    public async Task Upload_CutOffBeforeItsClosingBoundary_Answers400_AndStoresNothing()
    {
        await using var host = await ApiTestHost.StartAsync();
        // The body stops in the middle of the file part: no closing "--x--".
        var content = new StringContent("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.csv\"\r\nContent-Type: text/csv\r\n\r\n" + Uploads.Rows(3)[..40]);
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse("multipart/form-data; boundary=x");

        var response = await host.Staff().PostAsync("/api/students/upload", content, Ct);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("closing boundary", await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal(0, (await ApiTestHost.ReadAsync<PagedList<StudentView>>(await host.Staff().GetAsync("/api/students", Ct))).Total);
    }

    [Fact]
    public async Task Upload_ReturnsBadRequest_AndStoresNothing_WhenTheMultipartBodyHasNoBoundary()
    {
        await using var host = await ApiTestHost.StartAsync();
        var content = new StringContent("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.csv\"\r\n\r\n" + Uploads.Rows(1) + "\r\n--x--\r\n");
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse("multipart/form-data");

        var response = await host.Staff().PostAsync("/api/students/upload", content, Ct);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(0, (await ApiTestHost.ReadAsync<PagedList<StudentView>>(await host.Staff().GetAsync("/api/students", Ct))).Total);
    }

    [Fact]
    public async Task Upload_ReturnsPayloadTooLarge_WhenFileIsOverTheLimit()
    {
        await using var host = await ApiTestHost.StartAsync(s => s["Upload:MaxBytes"] = "1024");
        var response = await host.Staff().PostAsync("/api/students/upload", Uploads.Csv(Uploads.Rows(200)), Ct);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(0, (await host.QueueStatsAsync()).Pending);
    }

    [Fact]
    public async Task Upload_ReturnsPayloadTooLarge_WhenRowsAreOverTheLimit()
    {
        await using var host = await ApiTestHost.StartAsync(s => s["Upload:MaxRows"] = "10");
        var response = await host.Staff().PostAsync("/api/students/upload", Uploads.Csv(Uploads.Rows(11)), Ct);
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public void MaxFileBytes_Is20Megabytes()
    {
        Assert.Equal(20 * 1024 * 1024, UploadLimits.MaxFileBytes);
    }

    [Fact]
    public async Task Upload_ReturnsSameReportAndQueuesOnce_WhenRetriedWithIdempotencyKey()
    {
        await using var host = await ApiTestHost.StartAsync();
        var client = host.Staff();
        client.DefaultRequestHeaders.Add("Idempotency-Key", "upload-1");

        var first = await ApiTestHost.ReadAsync<UploadReport>(await client.PostAsync("/api/students/upload", Uploads.Csv(Uploads.Rows(2)), Ct));
        var second = await ApiTestHost.ReadAsync<UploadReport>(await client.PostAsync("/api/students/upload", Uploads.Csv(Uploads.Rows(2)), Ct));

        Assert.Equal(JsonSerializer.Serialize(first), JsonSerializer.Serialize(second));
        Assert.Equal(4, (await host.QueueStatsAsync()).Counters.Enqueued);
    }

    [Fact]
    public async Task Upload_CountsUpdates_WhenRollNumbersExist()
    {
        await using var host = await ApiTestHost.StartAsync();
        await host.Staff().PostAsync("/api/students/upload", Uploads.Csv(Uploads.Rows(2)), Ct);
        var report = await ApiTestHost.ReadAsync<UploadReport>(await host.Staff().PostAsync("/api/students/upload", Uploads.Csv(Uploads.Rows(3)), Ct));

        Assert.Equal(1, report.Imported);
        Assert.Equal(2, report.Updated);
        // Only the new student is welcomed.
        Assert.Equal(2, report.NotificationsQueued);
        Assert.Equal(6, (await host.QueueStatsAsync()).Counters.Enqueued);
    }

    [Fact]
    public async Task Upload_WelcomesNoKnownStudentAgain_AfterTheWelcomesIdempotencyKeysExpire()
    {
        // A list corrected and uploaded again weeks later: the welcome keys (a day by default) are long gone.
        await using var host = await ApiTestHost.StartAsync(settings => settings["NotificationQueue:IdempotencyWindow"] = "00:00:01");
        await host.Staff().PostAsync("/api/students/upload", Uploads.Csv(Uploads.Rows(2)), Ct);
        await Task.Delay(TimeSpan.FromSeconds(1.5), Ct);

        var report = await ApiTestHost.ReadAsync<UploadReport>(await host.Staff().PostAsync("/api/students/upload", Uploads.Csv(Uploads.Rows(3)), Ct));

        Assert.Equal((1, 2, 2), (report.Imported, report.Updated, report.NotificationsQueued));
        Assert.Equal(6, (await host.QueueStatsAsync()).Counters.Enqueued);
    }

    [Fact]
    public async Task List_ReturnsStudentsPaged()
    {
        await using var host = await ApiTestHost.StartAsync();
        await host.Staff().PostAsync("/api/students/upload", Uploads.Csv(Uploads.Rows(5)), Ct);

        var page = await ApiTestHost.ReadAsync<PagedList<StudentView>>(await host.Staff().GetAsync("/api/students?page=2&pageSize=2", Ct));
        Assert.Equal(5, page.Total);
        Assert.Equal(["R00002", "R00003"], page.Items.Select(s => s.RollNumber));
    }

    [Fact]
    public async Task List_ReturnsBadRequest_WhenPageIsZero()
    {
        await using var host = await ApiTestHost.StartAsync();
        await ProblemAssert.IsProblemAsync(await host.Staff().GetAsync("/api/students?page=0", Ct), HttpStatusCode.BadRequest);
        await ProblemAssert.IsProblemAsync(await host.Staff().GetAsync("/api/students?pageSize=100000", Ct), HttpStatusCode.BadRequest);
        // (page - 1) * pageSize past int: a clear 400 on page, not a wrapped-around offset.
        var problem = await ProblemAssert.IsProblemAsync(await host.Staff().GetAsync("/api/students?page=2147483647&pageSize=500", Ct), HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("page", out _));
    }

    [Fact]
    public async Task Get_ReturnsStudent_AndNotFoundForUnknownId()
    {
        await using var host = await ApiTestHost.StartAsync();
        var student = await host.SeedStudentAsync();

        var found = await ApiTestHost.ReadAsync<StudentView>(await host.Staff().GetAsync($"/api/students/{student.Id}", Ct));
        Assert.Equal(student.RollNumber, found.RollNumber);
        await ProblemAssert.IsProblemAsync(await host.Staff().GetAsync("/api/students/nope", Ct), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Export_ReturnsEveryStudentInTheUploadColumns_WithFormulasEscaped()
    {
        await using var host = await ApiTestHost.StartAsync();
        // More than one read chunk, so the export pages through the store.
        var students = Enumerable.Range(0, 520).Select(i => new StudentUpsert($"R{i:D4}", $"Student {i}", $"s{i}@example.edu", $"+9198765{i:D5}", "B1")).ToList();
        students.Add(new StudentUpsert("R9999", "=HYPERLINK(\"http://evil.example\",\"click\")", "x@example.edu", "+919876599999", null));
        await host.Service<IStudentStore>().UpsertManyAsync(students, Ct);

        var rows = await CsvDownloads.ReadAsync(await host.Staff().GetAsync("/api/students/export", Ct));

        Assert.Equal(["name", "email", "phone", "roll number", "batch"], rows[0]);
        Assert.Equal(522, rows.Count);
        Assert.Equal(["Student 0", "s0@example.edu", "'+919876500000", "R0000", "B1"], rows[1]);
        var formula = Assert.Single(rows, r => r[3] == "R9999");
        Assert.Equal("'=HYPERLINK(\"http://evil.example\",\"click\")", formula[0]);
        Assert.Equal("", formula[4]);
    }

    [Fact]
    public async Task Export_UploadedAgain_ChangesNothing()
    {
        await using var host = await ApiTestHost.StartAsync();
        await host.Service<IStudentStore>().UpsertManyAsync(
            // "+1+2" is stored (only "=" and "@" starts are refused at upload) and escaped in the export, so it must read back.
            [new StudentUpsert("R1", "+1+2", "a@example.edu", "+919876543210", "B1"), new StudentUpsert("R2", "Ravi", "b@example.edu", "+919876543211", "-B2")], Ct);
        var before = await host.Service<IStudentStore>().ListAsync(new PageRequest(0, 10), Ct);
        var export = await (await host.Staff().GetAsync("/api/students/export", Ct)).Content.ReadAsByteArrayAsync(Ct);

        var report = await ApiTestHost.ReadAsync<UploadReport>(await host.Staff().PostAsync("/api/students/upload", Uploads.File(export, "students.csv", "text/csv"), Ct));

        Assert.Empty(report.Rejected);
        Assert.Equal((0, 2), (report.Imported, report.Updated));
        var after = await host.Service<IStudentStore>().ListAsync(new PageRequest(0, 10), Ct);
        Assert.Equal(before.Items.Select(s => (s.Name, s.Email, s.Phone, s.RollNumber, s.BatchId)), after.Items.Select(s => (s.Name, s.Email, s.Phone, s.RollNumber, s.BatchId)));
    }

    [Fact]
    public async Task Export_IsForStaffOnly()
    {
        await using var host = await ApiTestHost.StartAsync();
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Anonymous().GetAsync("/api/students/export", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await host.Student("s1").GetAsync("/api/students/export", Ct)).StatusCode);
    }
}
