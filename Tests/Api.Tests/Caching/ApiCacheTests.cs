using Api.Caching;
using Api.Forms;
using Api.Students;
using Api.Tests.Infrastructure;
using Notifications.Stores;
using ZiggyCreatures.Caching.Fusion;

namespace Api.Tests.Caching;

public sealed class ApiCacheTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ReadHeavyRun_HasHitRateAbove95Percent()
    {
        await using var host = await ApiTestHost.StartAsync();
        var form = await host.SeedFormAsync();
        await host.Staff().PostAsync("/api/students/upload", Uploads.Csv(Uploads.Rows(20)), Ct);
        var staff = host.Staff();

        var reads = Enumerable.Range(0, 300).Select(i => (i % 3) switch
        {
            0 => staff.GetAsync("/api/students", Ct),
            1 => staff.GetAsync("/api/forms/active", Ct),
            _ => staff.GetAsync($"/api/forms/{form.Id}/analytics", Ct),
        });
        foreach (var chunk in reads.Chunk(20))
        {
            Assert.All(await Task.WhenAll(chunk), r => r.EnsureSuccessStatusCode());
        }

        var stats = await ApiTestHost.ReadAsync<CacheStats>(await staff.GetAsync("/api/monitoring/cache", Ct));
        Assert.Equal(300, stats.Hits + stats.Misses);
        Assert.True(stats.HitRate > 0.95, $"hit rate {stats.HitRate} ({stats.Hits} hits, {stats.Misses} misses)");
    }

    [Fact]
    public async Task CachedReads_AreStoredUnderTheOldPlansKeys_WithTtl()
    {
        await using var host = await ApiTestHost.StartAsync();
        var form = await host.SeedFormAsync();
        var staff = host.Staff();
        await staff.GetAsync("/api/students", Ct);
        await staff.GetAsync("/api/forms/active", Ct);
        await staff.GetAsync($"/api/forms/{form.Id}/analytics", Ct);
        await staff.GetAsync("/api/students?page=2", Ct);

        var db = host.Multiplexer.GetDatabase();
        var server = host.Multiplexer.GetServers().Single();
        var cacheKeys = server.Keys(pattern: "cache:*").Select(k => (string)k!).Order().ToList();
        Assert.Equal(["cache:api:analytics:form_" + form.Id, "cache:api:forms:active", "cache:api:students:list"], cacheKeys);
        foreach (var key in cacheKeys)
        {
            Assert.NotNull(await db.KeyTimeToLiveAsync(key));
        }
        // Only cache keys expire: the queue's keys never do.
        foreach (var key in server.Keys(pattern: "{" + host.QueueName + "}*"))
        {
            Assert.Null(await db.KeyTimeToLiveAsync(key));
        }
    }

    [Fact]
    public async Task ADamagedEntryInRedis_IsAMiss_AndTheStoreAnswers()
    {
        await using var host = await ApiTestHost.StartAsync();
        var form = await host.SeedFormAsync();
        // The layout Microsoft's RedisCache reads (a hash: absolute and sliding expiry, data), with data that is no
        // FusionCache entry: what another version of the Api, or a damaged write, would leave.
        var db = host.Multiplexer.GetDatabase();
        await db.HashSetAsync(CacheKeys.ActiveForms, [new("absexp", -1), new("sldexp", -1), new("data", "{\"v\": [not json")]);
        await db.KeyExpireAsync(CacheKeys.ActiveForms, TimeSpan.FromMinutes(5));

        var response = await host.Staff().GetAsync("/api/forms/active", Ct);

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(form.Id, Assert.Single(await ApiTestHost.ReadAsync<List<Form>>(response)).Id);
    }

    [Fact]
    public async Task Write_IsVisibleInTheNextRead()
    {
        await using var host = await ApiTestHost.StartAsync();
        var staff = host.Staff();
        var student = await host.SeedStudentAsync();
        var form = await host.SeedFormAsync();

        Assert.Equal(1, (await ApiTestHost.ReadAsync<PagedList<StudentView>>(await staff.GetAsync("/api/students", Ct))).Total);
        await staff.PostAsync("/api/students/upload", Uploads.Csv(Uploads.Rows(2)), Ct);
        Assert.Equal(3, (await ApiTestHost.ReadAsync<PagedList<StudentView>>(await staff.GetAsync("/api/students", Ct))).Total);

        Assert.Single(await ApiTestHost.ReadAsync<List<Form>>(await staff.GetAsync("/api/forms/active", Ct)));
        await staff.PostAsync("/api/forms", ApiTestHost.JsonBody(new { title = "Second", isActive = true }), Ct);
        Assert.Equal(2, (await ApiTestHost.ReadAsync<List<Form>>(await staff.GetAsync("/api/forms/active", Ct))).Count);

        Assert.Equal(0, (await ApiTestHost.ReadAsync<FormAnalytics>(await staff.GetAsync($"/api/forms/{form.Id}/analytics", Ct))).Total);
        await host.Student(student.Id).PostAsync($"/api/forms/{form.Id}/submissions", ApiTestHost.JsonBody(new { answers = new { comment = "x" } }), Ct);
        Assert.Equal(1, (await ApiTestHost.ReadAsync<FormAnalytics>(await staff.GetAsync($"/api/forms/{form.Id}/analytics", Ct))).Total);
    }

    [Fact]
    public async Task AnAnalyticsEntryCachedJustAfterASubmission_IsRemovedAgainShortlyAfter()
    {
        await using var host = await ApiTestHost.StartAsync(settings => settings["ApiCache:ReevictDelay"] = "00:00:05");
        var student = await host.SeedStudentAsync();
        var form = await host.SeedFormAsync();
        var staff = host.Staff();
        var stale = await ApiTestHost.ReadAsync<FormAnalytics>(await staff.GetAsync($"/api/forms/{form.Id}/analytics", Ct));

        // A submission is stored and removes the entry; then a load that read the store before it stores what it read.
        await host.Student(student.Id).PostAsync($"/api/forms/{form.Id}/submissions", ApiTestHost.JsonBody(new { answers = new { comment = "x" } }), Ct);
        await host.Service<IFusionCache>().SetAsync(CacheKeys.FormAnalytics(form.Id), stale, token: Ct);
        Assert.Equal(0, (await ApiTestHost.ReadAsync<FormAnalytics>(await staff.GetAsync($"/api/forms/{form.Id}/analytics", Ct))).Total);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await ApiTestHost.ReadAsync<FormAnalytics>(await staff.GetAsync($"/api/forms/{form.Id}/analytics", Ct))).Total != 1)
        {
            Assert.True(DateTime.UtcNow < deadline, "the stale analytics entry was not removed a second time");
            await Task.Delay(50, Ct);
        }
    }

    [Fact]
    public async Task AStudentRecordCachedJustAfterAnUpload_IsEvictedAgainShortlyAfter()
    {
        await using var host = await ApiTestHost.StartAsync(settings => settings["ApiCache:ReevictDelay"] = "00:00:05");
        var before = await host.SeedStudentAsync(phone: "+919876500001");
        var records = host.Service<RecordCache>();

        // The store changes and the Api evicts; then a load that read the store before the change stores what it read.
        await host.Service<IStudentStore>().UpsertManyAsync([new StudentUpsert(before.RollNumber, before.Name, before.Email, "+919876500002")], Ct);
        await records.StudentsChangedAsync();
        await host.Service<IFusionCache>().SetAsync(CacheKeys.StudentRecord(before.Id), before, tags: [CacheKeys.StudentRecordsTag], token: Ct);
        Assert.Equal("+919876500001", (await records.GetStudentAsync(before.Id, Ct)).Phone);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await records.GetStudentAsync(before.Id, Ct)).Phone != "+919876500002")
        {
            Assert.True(DateTime.UtcNow < deadline, "the stale record was not evicted a second time");
            await Task.Delay(50, Ct);
        }
    }
}
