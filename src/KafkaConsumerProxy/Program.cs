return await KafkaConsumerProxy.Cli.CliApp.RunAsync(args);
