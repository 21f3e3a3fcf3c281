import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './data-source-options';
import { boundMysqlPool } from './mysql-deadlines';

/**
 * The ledger's SQL connection. Migrations run only where asked (`npm run migrate`, or
 * DB_MIGRATIONS_RUN=true on the API); the worker never migrates, see the worker module.
 */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        ...buildDataSourceOptions(config.database),
        autoLoadEntities: true,
        migrationsRun: false,
        retryAttempts: 10,
        retryDelay: 1000,
      }),
      dataSourceFactory: async (options) => {
        const dataSource = await new DataSource(options!).initialize();
        if (dataSource.options.type !== 'postgres') boundMysqlPool(dataSource, (dataSource.options as { connectTimeout?: number }).connectTimeout ?? 5000);
        return dataSource;
      },
    }),
  ],
})
export class DatabaseModule {}
