using KafkaConsumerProxy.Bench;

return await BenchCli.RunAsync(args);
