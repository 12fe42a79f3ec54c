using System.Net;
using System.Net.Http.Json;
using Api.DeadLetters;
using Api.Tests.Infrastructure;

namespace Api.Tests.DeadLetters;

public sealed class DeadLettersApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<string> DeadTaskAsync(ApiTestHost host, string phone)
    {
        // A task the worker gave up on, as the queue stores it.
        var json = $$"""{"id":"{{Notifications.Tasks.TaskIds.New()}}","type":"sms","data":{"phone":"{{phone}}","message":"hi"},"timestamp":1,"retry_count":3,"max_retries":3}""";
        return (await host.Service<Notifications.Queue.DeadLetters>().AddUnreadableAsync(json, "provider said no", Ct)).Id;
    }

    [Fact]
    public async Task List_SearchesAndPages_AndGetReturnsOne()
    {
        await using var host = await ApiTestHost.StartAsync();
        var first = await DeadTaskAsync(host, "+919876543210");
        await DeadTaskAsync(host, "+919876543211");

        var all = await ApiTestHost.ReadAsync<DeadLetterList>(await host.Staff().GetAsync("/api/dead-letters", Ct));
        Assert.Equal(2, all.Total);
        var found = await ApiTestHost.ReadAsync<DeadLetterList>(await host.Staff().GetAsync("/api/dead-letters?search=provider&limit=1&offset=1", Ct));
        Assert.Equal(2, found.Total);
        Assert.Single(found.Items);

        var one = await ApiTestHost.ReadAsync<DeadLetterView>(await host.Staff().GetAsync($"/api/dead-letters/{first}", Ct));
        Assert.Equal("provider said no", one.Error);
        Assert.Contains("+919876543210", one.Payload, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RetryAndDelete_ActOnDeadLetters_AndUnknownIdsAreNotFound()
    {
        await using var host = await ApiTestHost.StartAsync();
        var first = await DeadTaskAsync(host, "+919876543210");
        await DeadTaskAsync(host, "+919876543211");
        await DeadTaskAsync(host, "+919876543212");
        var staff = host.Staff();

        Assert.Equal(HttpStatusCode.NoContent, (await staff.DeleteAsync($"/api/dead-letters/{first}", Ct)).StatusCode);
        await ProblemAssert.IsProblemAsync(await staff.DeleteAsync($"/api/dead-letters/{first}", Ct), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await staff.GetAsync("/api/dead-letters/unknown", Ct), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await staff.PostAsync("/api/dead-letters/unknown/retry", null, Ct), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await staff.GetAsync("/api/dead-letters?type=fax", Ct), HttpStatusCode.BadRequest);
        await ProblemAssert.IsProblemAsync(await staff.GetAsync("/api/dead-letters?limit=0", Ct), HttpStatusCode.BadRequest);

        var deleted = await ApiTestHost.ReadAsync<DeadLettersAffected>(await staff.PostAsJsonAsync("/api/dead-letters/delete-all", new { confirm = 2 }, Ct));
        Assert.Equal(2, deleted.Count);
        Assert.Equal(0, (await ApiTestHost.ReadAsync<DeadLetterList>(await staff.GetAsync("/api/dead-letters", Ct))).Total);
    }

    [Theory]
    [InlineData("DELETE", "/api/dead-letters")]
    [InlineData("DELETE", "/api/dead-letters/")]
    [InlineData("DELETE", "/api/dead-letters/%2e")]
    [InlineData("DELETE", "/api/dead-letters/.")]
    [InlineData("DELETE", "/api/dead-letters/%2E/")]
    [InlineData("POST", "/api/dead-letters/delete-all")]
    [InlineData("POST", "/api/dead-letters/retry-all")]
    public async Task BulkActions_NeedTheCountTheOperatorSaw_AndNoMistypedPathReachesThem(string method, string path)
    {
        await using var host = await ApiTestHost.StartAsync();
        await DeadTaskAsync(host, "+919876543210");
        await DeadTaskAsync(host, "+919876543211");
        var staff = host.Staff();

        using var bare = await staff.SendAsync(new HttpRequestMessage(new HttpMethod(method), path), Ct);
        Assert.True((int)bare.StatusCode is >= 400 and < 500, $"{method} {path} answered {(int)bare.StatusCode}");
        if (method == "POST")
        {
            await ProblemAssert.IsProblemAsync(bare, HttpStatusCode.BadRequest);
            // The count changed since the operator looked (or was never looked at): 409, nothing done.
            await ProblemAssert.IsProblemAsync(await staff.PostAsJsonAsync(path, new { confirm = 3 }, Ct), HttpStatusCode.Conflict);
            await ProblemAssert.IsProblemAsync(await staff.PostAsJsonAsync(path, new { confirm = -1 }, Ct), HttpStatusCode.BadRequest);
        }

        var left = await ApiTestHost.ReadAsync<DeadLetterList>(await staff.GetAsync("/api/dead-letters", Ct));
        Assert.Equal(2, left.Total);
    }

    [Fact]
    public async Task ADeadLetterWithoutData_IsListedAndShown_NotA500()
    {
        await using var host = await ApiTestHost.StartAsync();
        // What the legacy intake keeps of a legacy task it rejected.
        var id = (await host.Service<Notifications.Queue.DeadLetters>().AddUnreadableAsync(
            """{"id":"task_1","type":"sms","data":null,"timestamp":1640995200}""", "Legacy task rejected: no data", Ct)).Id;
        var staff = host.Staff();

        var list = await ApiTestHost.ReadAsync<DeadLetterList>(await staff.GetAsync("/api/dead-letters", Ct));
        var one = await ApiTestHost.ReadAsync<DeadLetterView>(await staff.GetAsync($"/api/dead-letters/{id}", Ct));

        var listed = Assert.Single(list.Items);
        Assert.Equal((id, (string?)null), (listed.Id, listed.Recipient));
        Assert.Contains("\"data\":null", one.Payload, StringComparison.Ordinal);
        await ProblemAssert.IsProblemAsync(await staff.PostAsync($"/api/dead-letters/{id}/retry", null, Ct), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task RetryAll_WithTheCurrentCount_QueuesEveryDeadLetterAgain()
    {
        await using var host = await ApiTestHost.StartAsync();
        await DeadTaskAsync(host, "+919876543210");
        await DeadTaskAsync(host, "+919876543211");

        using var answer = await host.Staff().PostAsJsonAsync("/api/dead-letters/retry-all", new { confirm = 2 }, Ct);

        Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
        Assert.Equal(2, (await ApiTestHost.ReadAsync<DeadLettersAffected>(answer)).Count);
        Assert.Equal(0, (await ApiTestHost.ReadAsync<DeadLetterList>(await host.Staff().GetAsync("/api/dead-letters", Ct))).Total);
    }
}
