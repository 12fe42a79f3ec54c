using System.Net;
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
        return await host.Service<Notifications.Queue.DeadLetters>().AddUnreadableAsync(json, "provider said no", Ct);
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

        var deleted = await ApiTestHost.ReadAsync<DeadLettersAffected>(await staff.DeleteAsync("/api/dead-letters", Ct));
        Assert.Equal(2, deleted.Count);
        Assert.Equal(0, (await ApiTestHost.ReadAsync<DeadLetterList>(await staff.GetAsync("/api/dead-letters", Ct))).Total);
    }
}
